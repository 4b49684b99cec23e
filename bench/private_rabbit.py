"""A private RabbitMQ node on its own ports and directories, for tests and the chaos harness that stop,
kill and restart a broker (never the shared one on 5672). Starts in 5-10 s; data survives stop/start
and a SIGKILL like a real restart's."""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _sbin() -> Path:
    found = sorted(glob.glob("/usr/lib/rabbitmq/lib/rabbitmq_server-*/sbin"))
    if not found:
        raise RuntimeError("rabbitmq-server is not installed (scripts/setup.sh installs it)")
    return Path(found[-1])


class PrivateRabbit:
    def __init__(self) -> None:
        self.port = free_port()
        self.dist_port = free_port()
        self.base = Path(tempfile.mkdtemp(prefix="tg-rabbit-"))
        self.node = f"tgtest{self.port}@localhost"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def _env(self) -> dict[str, str]:
        (self.base / "home").mkdir(exist_ok=True)
        (self.base / "log").mkdir(exist_ok=True)
        (self.base / "enabled_plugins").write_text("[].\n")
        return {
            **os.environ,
            "HOME": str(self.base / "home"),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.base / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(self.base / "rabbitmq"),
        }

    async def start(self, timeout: float = 60.0) -> None:
        if self._proc is not None and self._proc.poll() is None:
            return  # already running
        log = (self.base / "console.log").open("ab")
        # Popen only forks (the server runs on its own); our own server binary, no untrusted input.
        self._proc = subprocess.Popen(  # noqa: ASYNC220, S603
            [str(_sbin() / "rabbitmq-server")],
            env=self._env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.base,  # where the Erlang VM would write a crash dump
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"private RabbitMQ exited; see {self.base}/console.log")
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.5).close()
                return
            except OSError:
                await asyncio.sleep(0.25)
        raise TimeoutError(f"private RabbitMQ did not open port {self.port}")

    async def _ctl(self, *args: str) -> None:
        """``rabbitmqctl`` against this node (the package's own script, as the server's)."""
        proc = await asyncio.create_subprocess_exec(
            str(_sbin() / "rabbitmqctl"),
            "-n",
            self.node,
            *args,
            env=self._env(),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        if await proc.wait() != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed on {self.node}")

    async def stop_app(self) -> None:
        """A graceful stop of the broker application (the Erlang node stays up), as an operator does."""
        await self._ctl("stop_app")

    async def start_app(self) -> None:
        await self._ctl("start_app")

    async def kill(self) -> None:
        """SIGKILL the whole node: no goodbye to any client, what was on disk is what survives."""
        await self.stop(sig=signal.SIGKILL)

    async def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        if self._proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, sig)
        for _ in range(120):
            if self._proc.poll() is not None:
                break
            await asyncio.sleep(0.25)
        else:
            os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait()
        self._proc = None
        # The Erlang VM can outlive the shell wrapper by a moment; wait until the port is free.
        for _ in range(80):
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
            except OSError:
                return
            await asyncio.sleep(0.25)
