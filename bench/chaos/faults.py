"""The faults of a chaos run, on a schedule spread over the run, and how each is dealt.

Per ten minutes, as the issue that asked for this harness ran it: 20 worker SIGKILLs, 4 front-door
SIGKILLs, 4 RabbitMQ restarts (graceful ``stop_app``/``start_app`` and SIGKILL of the node, in turn) and
3 Redis restarts (SIGKILL, then a restart from its append-only file). A shorter or longer run scales the
counts, at least one of each. The big faults (broker, Redis, front door) never overlap, so the recovery
measured after each is its own, and each hits just after a surge of work (``Load.surge``): a fault test
must find work in every place a message can be, and at 20 submissions a second the queues are mostly
empty and a door is rarely caught mid-request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from bench.chaos.supervisor import Supervisor
from bench.harness.targets import wait_port
from bench.private_rabbit import PrivateRabbit
from bench.private_redis import PrivateRedis

PER_TEN_MINUTES = {"worker kill": 20, "door kill": 4, "broker restart": 4, "redis restart": 3}
BROKER_DOWN_SECONDS = 8.0
REDIS_DOWN_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class Planned:
    at: float  # seconds since the run began
    kind: str  # a key of PER_TEN_MINUTES
    variant: str = ""  # "graceful" or "kill" for the broker


@dataclass(frozen=True, slots=True)
class Dealt:
    planned: Planned
    began: float
    ended: float  # when the faulted part was back (started again, or answering)
    target: str


def schedule(seconds: float) -> list[Planned]:
    """When each fault hits: the big ones evenly over 10 %-85 % of the run, in rotation; worker kills
    evenly over 5 %-90 %, between them."""
    counts = {kind: max(1, round(n * seconds / 600)) for kind, n in PER_TEN_MINUTES.items()}
    big: list[tuple[str, str]] = []
    broker_variants = ["graceful", "kill"]
    queues = {
        "broker restart": [broker_variants[i % 2] for i in range(counts["broker restart"])],
        "redis restart": [""] * counts["redis restart"],
        "door kill": [""] * counts["door kill"],
    }
    while any(queues.values()):
        for kind in ("broker restart", "door kill", "redis restart"):
            if queues[kind]:
                big.append((kind, queues[kind].pop(0)))
    plan = []
    start, stop = 0.10 * seconds, 0.85 * seconds
    step = (stop - start) / max(1, len(big) - 1) if len(big) > 1 else 0.0
    for i, (kind, variant) in enumerate(big):
        plan.append(Planned(start + i * step, kind, variant))
    kills = counts["worker kill"]
    for i in range(kills):
        plan.append(Planned(0.05 * seconds + (i + 0.5) * 0.85 * seconds / kills, "worker kill"))
    return sorted(plan, key=lambda p: p.at)


# How long after a surge of work each big fault hits: a door while the surge is in its hands, the broker
# and Redis once the surge's tickets are spread over the staging, work and delay queues and the workers.
SURGE_LEAD_SECONDS = {"door kill": 0.02, "broker restart": 0.5, "redis restart": 0.5}


@dataclass
class Faults:
    rabbit: PrivateRabbit
    redis: PrivateRedis
    supervisor: Supervisor
    began: float
    surge: Callable[[], Awaitable[None]] | None = None
    _turns: dict[str, int] = field(default_factory=dict)

    def _now(self) -> float:
        return time.monotonic() - self.began

    async def deal(self, planned: Planned) -> Dealt:
        lead = SURGE_LEAD_SECONDS.get(planned.kind)
        if lead is not None and self.surge is not None:
            await self.surge()
            await asyncio.sleep(lead)
        began = self._now()
        deal: Callable[[], Awaitable[str]] = {
            "worker kill": self._kill_worker,
            "door kill": self._kill_door,
            "broker restart": lambda: self._restart_broker(planned.variant),
            "redis restart": self._restart_redis,
        }[planned.kind]
        target = await deal()
        return Dealt(planned, began, self._now(), target)

    def _next(self, prefix: str) -> str:
        """The processes named ``prefix`` in turn (each prefix its own turn: one shared counter sent
        every door kill of the soak to the same door)."""
        candidates = self.supervisor.named(prefix)
        self._turns[prefix] = self._turns.get(prefix, -1) + 1
        return candidates[self._turns[prefix] % len(candidates)].name

    async def _kill_worker(self) -> str:
        name = self._next("worker")
        await self.supervisor.kill(next(p for p in self.supervisor.processes if p.name == name))
        return name

    async def _kill_door(self) -> str:
        name = self._next("front door")
        await self.supervisor.kill(next(p for p in self.supervisor.processes if p.name == name))
        return name

    async def _restart_broker(self, variant: str) -> str:
        if variant == "graceful":
            await self.rabbit.stop_app()
            await asyncio.sleep(BROKER_DOWN_SECONDS)
            await self.rabbit.start_app()
        else:
            await self.rabbit.kill()
            await self.rabbit.start()
        await wait_port(self.rabbit.port)
        return f"RabbitMQ ({variant})"

    async def _restart_redis(self) -> str:
        await self.redis.kill()
        await asyncio.sleep(REDIS_DOWN_SECONDS)
        await self.redis.start()
        return "Redis (SIGKILL, append-only file)"
