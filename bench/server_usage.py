"""What the server processes of a benchmark spend, read from outside them: the processes listening on
given ports, their CPU from the kernel, and what Redis nodes say they did (``bench.cluster_costs``,
``bench.redis_costs``)."""

from __future__ import annotations

import psutil
from redis import Redis as SyncRedis
from redis.exceptions import RedisError


def listening_pids(ports: set[int]) -> set[int]:
    return {
        c.pid
        for c in psutil.net_connections("tcp")
        if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port in ports and c.pid
    }


def redis_work(ports: set[int]) -> dict[str, float]:
    """What the Redis nodes on ``ports`` have done so far, summed by role (``primary``/``replica``):
    commands, microseconds spent in them, and read and write events (each about one syscall): the part
    of Redis's CPU outside commands is what fan-out over more nodes costs."""
    totals: dict[str, float] = {}
    for port in sorted(ports):
        client = SyncRedis(host="127.0.0.1", port=port, socket_timeout=5)
        try:
            stats = client.info("stats")
            commands = client.info("commandstats")
            role = "primary" if client.info("replication")["role"] == "master" else "replica"
        except RedisError:
            continue
        finally:
            client.close()
        for key, value in (
            ("calls", sum(c["calls"] for c in commands.values())),
            ("usec", sum(c["usec"] for c in commands.values())),
            ("reads", stats["total_reads_processed"]),
            ("writes", stats["total_writes_processed"]),
        ):
            totals[f"{role} {key}"] = totals.get(f"{role} {key}", 0.0) + float(value)
        for command, counts in commands.items():
            name = f"{role} {command.removeprefix('cmdstat_')}"
            totals[name] = totals.get(name, 0.0) + float(counts["calls"])
    return totals


def cpu_seconds(pids: set[int]) -> float:
    """User + system seconds of ``pids`` and their children (a RabbitMQ node is several processes)."""
    total = 0.0
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            family = [proc, *proc.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for p in family:
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.NoSuchProcess:
                continue
    return total
