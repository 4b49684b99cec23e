"""A RabbitMQ cluster of three nodes and a Redis Cluster of three primaries with a replica each, on this
one machine, for development, the failover tests and the benchmarks (``scripts/cluster.sh`` runs it).

Every process is started by us, on its own ports, with its data under ``.run/cluster`` (or
``TICKETGATE_CLUSTER_DIR``), and recorded in a pid file there, so ``down`` (from any process) stops what
``up`` started and removes the directory. The shared servers on 5672 and 6379 are never touched.

    python -m bench.local_cluster up|down|status|env

Why a module rather than shell: the failover tests kill and restart single nodes of this cluster, find
the node that leads a queue and the primary that holds a slot, and they use the same code as the script.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench.cluster_nodes import RABBIT_PORTS, REDIS_PORTS, RabbitNode, RedisNode, wait_port

ROOT = Path(__file__).resolve().parents[1]
SLOTS = 16384


def cluster_dir() -> Path:
    return Path(os.environ.get("TICKETGATE_CLUSTER_DIR", ROOT / ".run" / "cluster"))


class LocalCluster:
    def __init__(self, base: Path | None = None) -> None:
        self.base = base or cluster_dir()
        self.rabbits = [RabbitNode(i, self.base) for i in range(len(RABBIT_PORTS))]
        self.redises = [RedisNode(p, self.base) for p in REDIS_PORTS]

    # --- what clients use ---------------------------------------------------------------------------
    @property
    def amqp_url(self) -> str:
        return ",".join(node.url for node in self.rabbits)

    @property
    def redis_url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{node.port}" for node in self.redises[:3])

    def env_lines(self) -> str:
        return f"AMQP_URL={self.amqp_url}\nREDIS_URL={self.redis_url}\n"

    # --- life cycle -------------------------------------------------------------------------------
    def up(self) -> None:
        self.up_redis()
        self._up_rabbit()
        (self.base / "env").write_text(self.env_lines())

    def up_redis(self) -> None:
        """Only the Redis Cluster (what `bench.redis_costs` needs)."""
        self.base.mkdir(parents=True, exist_ok=True)
        for node in self.redises:
            node.start()
        first = self.redises[0]
        if "cluster_state:ok" in first.cli("cluster", "info") and "cluster_known_nodes:6" in first.cli(
            "cluster", "info"
        ):
            return
        done = subprocess.run(  # noqa: S603
            [  # noqa: S607
                "redis-cli",
                "--cluster",
                "create",
                *[f"127.0.0.1:{node.port}" for node in self.redises],
                "--cluster-replicas",
                "1",
                "--cluster-yes",
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed: {done.stdout}{done.stderr}")
        self.wait_redis_ok(60)

    def wait_redis_ok(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            live = [node for node in self.redises if node.running]
            if live and all("cluster_state:ok" in node.cli("cluster", "info") for node in live):
                return
            time.sleep(0.3)
        raise TimeoutError("the Redis Cluster did not reach cluster_state:ok")

    def _up_rabbit(self) -> None:
        cookie_file = self.base / "erlang.cookie"
        if not cookie_file.exists():
            cookie_file.write_text(secrets.token_hex(20).upper())
        cookie = cookie_file.read_text()
        for node in self.rabbits:
            node.prepare(cookie)
            node.start()
        for node in self.rabbits:
            wait_port(node.port, 90, node.name)
        first = self.rabbits[0]
        for node in self.rabbits[1:]:
            if not self._joined(node):
                node.ctl("stop_app")
                node.ctl("join_cluster", first.name)
                node.ctl("start_app")
        for node in self.rabbits:
            wait_port(node.port, 90, node.name)

    def _joined(self, node: RabbitNode) -> bool:
        status = node.ctl("cluster_status", "--formatter", "json", check=False)
        return self.rabbits[0].name in status

    def start_rabbit(self, node: RabbitNode, timeout: float = 90) -> None:
        """Restart a node that was killed: it rejoins the cluster it belonged to."""
        node.start()
        wait_port(node.port, timeout, node.name)

    def down(self) -> None:
        for rabbit in self.rabbits:
            if rabbit.running:
                rabbit.kill(signal.SIGTERM)
        for redis in self.redises:
            if redis.running or redis.pid is not None:
                redis.kill(signal.SIGTERM)
        shutil.rmtree(self.base, ignore_errors=True)

    # --- what the failover tests look at ------------------------------------------------------------
    def queue_leader(self, queue: str) -> RabbitNode:
        for node in self.rabbits:
            if not node.running:
                continue
            out = node.ctl("list_queues", "-q", "name", "leader", check=False, timeout=30)
            for line in out.splitlines():
                parts = line.split()
                if len(parts) == 2 and parts[0] == queue:
                    return next(n for n in self.rabbits if n.name == parts[1])
        raise LookupError(f"no leader found for {queue}")

    def redis_primary_of(self, slot: int) -> RedisNode:
        for node in self.redises:
            if not node.running:
                continue
            for line in node.cli("cluster", "nodes").splitlines():
                fields = line.split()
                if "master" not in fields[2] or "fail" in fields[2]:
                    continue
                for spec in fields[8:]:
                    lo, _, hi = spec.partition("-")
                    if lo.isdigit() and int(lo) <= slot <= int(hi or lo):
                        port = int(fields[1].split("@")[0].rsplit(":", 1)[1])
                        return next(n for n in self.redises if n.port == port)
        raise LookupError(f"no primary found for slot {slot}")

    def replica_of(self, primary: RedisNode) -> RedisNode:
        for line in primary.cli("cluster", "nodes").splitlines():
            fields = line.split()
            if "myself" in fields[2]:
                me = fields[0]
        for line in primary.cli("cluster", "nodes").splitlines():
            fields = line.split()
            if "slave" in fields[2] and fields[3] == me and "fail" not in fields[2]:
                port = int(fields[1].split("@")[0].rsplit(":", 1)[1])
                return next(n for n in self.redises if n.port == port)
        raise LookupError(f"no replica of {primary.port}")

    def status(self) -> str:
        lines = []
        for rabbit in self.rabbits:
            lines.append(f"rabbitmq {rabbit.name} :{rabbit.port} {'up' if rabbit.running else 'down'}")
        for redis in self.redises:
            role = ""
            if redis.running:
                role = next(
                    (line.split(":")[1] for line in redis.cli("info", "replication").splitlines() if
                     line.startswith("role:")),
                    "?",
                )  # fmt: skip
            lines.append(f"redis :{redis.port} {'up ' + role if redis.running else 'down'}")
        return "\n".join(lines)


class OnePrimaryRedisCluster:
    """Redis Cluster with one primary (all 16,384 slots) and its replica, on 7011/7012 beside the main
    cluster: what ``bench.cluster_costs`` compares three primaries against. (``redis-cli --cluster
    create`` wants three primaries at least, so the slots are assigned by hand.)"""

    def __init__(self, base: Path | None = None) -> None:
        self.base = (base or cluster_dir()) / "one-primary"
        self.primary, self.replica = RedisNode(7011, self.base), RedisNode(7012, self.base)

    @property
    def redis_url(self) -> str:
        return f"redis+cluster://127.0.0.1:{self.primary.port}"

    def up(self) -> None:
        self.primary.start()
        self.replica.start()
        if "cluster_state:ok" not in self.primary.cli("cluster", "info"):
            self.primary.cli("cluster", "addslotsrange", "0", str(SLOTS - 1))
        primary_id = self.primary.cli("cluster", "myid").strip()
        self.replica.cli("cluster", "meet", "127.0.0.1", str(self.primary.port))
        deadline = time.monotonic() + 60
        # REPLICATE answers "Unknown node" until the MEET has gone round; a replica already is one.
        while time.monotonic() < deadline:
            if "role:slave" in self.replica.cli("info", "replication"):
                break
            self.replica.cli("cluster", "replicate", primary_id)
            time.sleep(0.3)
        while time.monotonic() < deadline:
            states = [node.cli("cluster", "info") for node in (self.primary, self.replica)]
            roles = self.replica.cli("info", "replication")
            if all("cluster_state:ok" in st for st in states) and "master_link_status:up" in roles:
                return
            time.sleep(0.3)
        raise TimeoutError("the one-primary Redis Cluster did not come up")

    def down(self) -> None:
        for node in (self.primary, self.replica):
            node.kill(signal.SIGTERM)
        shutil.rmtree(self.base, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.local_cluster",
        description="A 3-node RabbitMQ cluster and a 3+3 Redis Cluster on this machine.",
    )
    parser.add_argument("command", choices=["up", "down", "status", "env"], help="what to do")
    args = parser.parse_args(argv)
    cluster = LocalCluster()
    if args.command == "up":
        cluster.up()
        print(cluster.status())
        print(cluster.env_lines(), end="")
    elif args.command == "down":
        cluster.down()
        print("cluster stopped; removed", cluster.base)
    elif args.command == "status":
        print(cluster.status())
    else:
        print(cluster.env_lines(), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
