"""The nodes of the local cluster (``bench.local_cluster``): one RabbitMQ node and one Redis node each,
on fixed ports with their data in a directory of their own, recorded in a pid file so that any process
can find, signal and restart them."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

RABBIT_PORTS = (5681, 5682, 5683)
REDIS_PORTS = (7001, 7002, 7003, 7004, 7005, 7006)  # three primaries first, then their replicas
# A failed primary is noticed after this long, and its replica promoted about a second later: inside the
# 8 s the operators allow for a failover, with room for the clients to follow.
REDIS_NODE_TIMEOUT_MS = 2000
# The RabbitMQ nodes this process started, kept so that they are reaped (and Python does not warn of a
# child left running) when they are killed.
_children: dict[int, subprocess.Popen[bytes]] = {}


def _sbin() -> Path:
    found = sorted(glob.glob("/usr/lib/rabbitmq/lib/rabbitmq_server-*/sbin"))
    if not found:
        raise RuntimeError("rabbitmq-server is not installed (scripts/cluster.sh installs it)")
    return Path(found[-1])


def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), 0.5).close()
        return True
    except OSError:
        return False


def wait_port(port: int, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _answers(port):
            return
        time.sleep(0.2)
    raise TimeoutError(f"{what} did not open port {port}")


def _pid_in(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


@dataclass(frozen=True)
class RabbitNode:
    index: int
    base: Path

    @property
    def port(self) -> int:
        return RABBIT_PORTS[self.index]

    @property
    def name(self) -> str:
        return f"tgcluster{self.index + 1}@localhost"

    @property
    def dir(self) -> Path:
        return self.base / f"rabbit-{self.index + 1}"

    @property
    def pid_file(self) -> Path:
        return self.dir / "pid"

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "HOME": str(self.dir / "home"),
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.port + 20000),
            "RABBITMQ_MNESIA_BASE": str(self.dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.dir / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.dir / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(self.dir / "rabbitmq"),
        }

    def prepare(self, cookie: str) -> None:
        (self.dir / "home").mkdir(parents=True, exist_ok=True)
        (self.dir / "log").mkdir(exist_ok=True)
        (self.dir / "enabled_plugins").write_text("[].\n")
        # Quorum queue leaders spread over the nodes rather than all on the node a declare reached.
        (self.dir / "rabbitmq.conf").write_text(
            "queue_leader_locator = balanced\nloopback_users.guest = true\nlisteners.tcp.default = 127.0.0.1:"
            f"{self.port}\n"
        )
        cookie_file = self.dir / "home" / ".erlang.cookie"
        if not cookie_file.exists():
            cookie_file.write_text(cookie)
            cookie_file.chmod(0o400)

    def start(self) -> None:
        if self.running:
            return
        log = (self.dir / "console.log").open("ab")
        # Our own server binary with our own arguments; Popen only forks (the node runs on its own).
        proc = subprocess.Popen(  # noqa: S603
            [str(_sbin() / "rabbitmq-server")],
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.dir,
            start_new_session=True,
        )
        log.close()
        _children[proc.pid] = proc
        self.pid_file.write_text(str(proc.pid))

    @property
    def running(self) -> bool:
        pid = self.pid
        return pid is not None and _alive(pid)

    @property
    def pid(self) -> int | None:
        return _pid_in(self.pid_file)

    def ctl(self, *args: str, check: bool = True, timeout: float = 60) -> str:
        return self._tool("rabbitmqctl", *args, check=check, timeout=timeout)

    def rebalance_quorum_leaders(self) -> str:
        """Spread every quorum queue's leader evenly over the running nodes (``rabbitmq-queues rebalance
        quorum``): what an operator runs after a node restart, which leaves the node leading nothing."""
        return self._tool("rabbitmq-queues", "rebalance", "quorum", timeout=120)

    def _tool(self, tool: str, *args: str, check: bool = True, timeout: float = 60) -> str:
        done = subprocess.run(  # noqa: S603
            [str(_sbin() / tool), "-n", self.name, *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args)} on {self.name}: {done.stderr or done.stdout}")
        return done.stdout

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> None:
        """Signal the node's whole process group (SIGKILL: no goodbye to anyone)."""
        pid = self.pid
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + 60
        child = _children.pop(pid, None)
        if child is not None:
            child.wait(60)
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        # The Erlang port mapper and the node's epmd registration may linger a moment after SIGKILL.
        while _answers(self.port) and time.monotonic() < deadline:
            time.sleep(0.1)


@dataclass(frozen=True)
class RedisNode:
    port: int
    base: Path

    @property
    def dir(self) -> Path:
        return self.base / f"redis-{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.dir / "redis.pid"

    @property
    def pid(self) -> int | None:
        return _pid_in(self.pid_file)

    @property
    def running(self) -> bool:
        pid = self.pid
        return pid is not None and _alive(pid) and _answers(self.port)

    def start(self) -> None:
        if self.running:
            return
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (scripts/cluster.sh installs it)")
        self.dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(  # noqa: S603
            [
                binary,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--daemonize", "yes",
                "--dir", str(self.dir),
                "--pidfile", str(self.pid_file),
                "--logfile", str(self.dir / "redis.log"),
                "--cluster-enabled", "yes",
                "--cluster-config-file", str(self.dir / "nodes.conf"),
                "--cluster-node-timeout", str(REDIS_NODE_TIMEOUT_MS),
                # A replica may always take over: under load its last contact can be older than the
                # default validity window allows, and then nobody would.
                "--cluster-replica-validity-factor", "0",
                "--cluster-require-full-coverage", "no",
                "--appendonly", "yes",
                "--appendfsync", "everysec",
                "--save", "",
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip
        wait_port(self.port, 20, f"Redis {self.port}")

    def cli(self, *args: str) -> str:
        done = subprocess.run(  # noqa: S603
            ["redis-cli", "-p", str(self.port), *args],  # noqa: S607
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        return done.stdout

    def kill(self, sig: signal.Signals = signal.SIGKILL) -> None:
        pid = self.pid
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + 30
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.pid_file.unlink(missing_ok=True)
