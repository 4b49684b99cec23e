"""A private Redis server on its own port, for tests that stop and restart Redis."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from bench.private_rabbit import free_port


class PrivateRedis:
    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="tg-redis-"))
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (scripts/setup.sh installs it)")
        # Popen only forks (the server runs on its own); our own server binary, no untrusted input.
        self._proc = subprocess.Popen(  # noqa: ASYNC220, S603
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.dir),
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                await asyncio.sleep(0.1)
        raise TimeoutError("private Redis did not start")

    async def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            await asyncio.to_thread(self._proc.wait)
            self._proc = None

    async def kill(self) -> None:
        """SIGKILL: it restarts from its append-only file (fsync on every write), as after a crash."""
        if self._proc is not None:
            self._proc.kill()
            await asyncio.to_thread(self._proc.wait)
            self._proc = None
