"""The system's processes under a supervisor: each can be SIGKILLed and is started again after a pause,
as systemd or Kubernetes would; and each one's memory, descriptors and connections are sampled."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True, slots=True)
class ResourceSample:
    t: float  # seconds since the run began
    process: str
    rss_mb: float
    fds: int
    connections: int


@dataclass
class Supervised:
    name: str
    module: str
    env: Mapping[str, str]
    log_dir: Path
    args: tuple[str, ...] = ()
    restarts: int = 0
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = (self.log_dir / f"{self.name}.log").open("ab")
        try:
            # Our own modules with this interpreter: nothing here comes from untrusted input.
            self.proc = subprocess.Popen(  # noqa: S603
                [sys.executable, "-m", self.module, *self.args],
                cwd=ROOT,
                env=dict(self.env),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        finally:
            log.close()

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    async def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            await asyncio.to_thread(self.proc.wait)

    async def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM and wait; SIGKILL after ``timeout``. The exit status, or None if it had to be killed."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return await asyncio.to_thread(self.proc.wait, timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            await asyncio.to_thread(self.proc.wait)
            return None


@dataclass
class Supervisor:
    """Processes restarted when they die, sampled for their resources."""

    processes: list[Supervised]

    @classmethod
    def whole_system(cls, env: Mapping[str, str], logs: Path) -> Supervisor:
        """The core simulator, the identity provider, the status API, two front doors (on one port) and
        two worker processes."""
        return cls(
            [
                Supervised("core simulator", "bench.coresim", env, logs),
                Supervised("identity provider", "bench.idp", env, logs),
                Supervised("status API", "status_api", env, logs),
                Supervised("front door 1", "frontdoor", env, logs),
                Supervised("front door 2", "frontdoor", env, logs),
                Supervised("worker 1", "workers", env, logs),
                Supervised("worker 2", "workers", env, logs),
            ]
        )

    restart_after: float = 1.0
    began: float = field(default_factory=time.monotonic)
    samples: list[ResourceSample] = field(default_factory=list)
    unexpected_exits: list[tuple[float, str, int]] = field(default_factory=list)
    _killed: set[str] = field(default_factory=set)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _stopping: bool = False

    def start(self) -> None:
        for p in self.processes:
            p.start()
        self._tasks.append(asyncio.create_task(self._watch()))
        self._tasks.append(asyncio.create_task(self._sample()))

    def named(self, prefix: str) -> list[Supervised]:
        return [p for p in self.processes if p.name.startswith(prefix)]

    async def kill(self, process: Supervised) -> None:
        """SIGKILL it; the watch starts it again after ``restart_after``."""
        self._killed.add(process.name)
        await process.kill()

    async def _watch(self) -> None:
        while not self._stopping:
            for p in self.processes:
                if p.proc is None or p.proc.poll() is None:
                    continue
                if p.name not in self._killed:
                    # Exited of its own accord: a finding, but the supervisor still brings it back.
                    self.unexpected_exits.append((time.monotonic() - self.began, p.name, p.proc.returncode))
                self._killed.discard(p.name)
                await asyncio.sleep(self.restart_after)
                if not self._stopping:
                    p.restarts += 1
                    p.start()
            await asyncio.sleep(0.1)

    async def _sample(self, every: float = 5.0) -> None:
        while not self._stopping:
            t = time.monotonic() - self.began
            for p in self.processes:
                if not p.alive or p.proc is None:
                    continue
                with contextlib.suppress(psutil.Error):
                    ps = psutil.Process(p.proc.pid)
                    self.samples.append(
                        ResourceSample(
                            t,
                            p.name,
                            ps.memory_info().rss / 2**20,
                            ps.num_fds(),
                            len(ps.net_connections(kind="tcp")),
                        )
                    )
            await asyncio.sleep(every)

    async def stop(self) -> dict[str, int | None]:
        """Stop every process gracefully; each one's exit status (None: it had to be killed)."""
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        codes = await asyncio.gather(*(p.stop() for p in self.processes))
        return {p.name: code for p, code in zip(self.processes, codes, strict=True)}
