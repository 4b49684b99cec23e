"""The open-loop load of a chaos run: submissions of every kind at Poisson times (a slow answer never
slows the arrivals), and a small enterprise batch now and then, every answer recorded.

A citizen whose request got no answer at all (its front door was killed mid-request) sends the same
body again a second later, as a citizen would: the system's dedupe must answer with the ticket that the
first request may already have queued, so a door killed between publish and commit is covered too.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bench import citizen_tokens
from bench.submissions import submission

RETRY_AFTER_NO_ANSWER = 1.0


@dataclass(frozen=True, slots=True)
class Answer:
    sent: float  # seconds since the run began
    received: float
    source: str  # "citizen", "citizen retry" or "bulk"
    status: int | None  # None: no answer (connection lost, timeout)
    tickets: tuple[str, ...]
    error: str = ""
    kind: str = ""  # a citizen's submission's kind ("" for a batch)


@dataclass
class Load:
    front_url: str
    rate: float
    began: float
    seed: int = 1
    enterprise_key: str | None = None
    bulk_every: float = 30.0
    bulk_items: int = 20
    # The citizens' tokens (``bench.citizen_tokens``): the submissions' seeds come from its pool.
    tokens: dict[str, str] = field(default_factory=dict)
    answers: list[Answer] = field(default_factory=list)
    _n: int = 0
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def _now(self) -> float:
        return time.monotonic() - self.began

    async def run(self, http: aiohttp.ClientSession, seconds: float) -> None:
        """Offer load for ``seconds``; then wait for every request still in flight."""
        rng = random.Random(self.seed)
        end = self._now() + seconds
        next_at = self._now()
        next_bulk = self._now() + self.bulk_every / 2
        while (now := self._now()) < end:
            if now < next_at:
                await asyncio.sleep(next_at - now)
            self._spawn(self._citizen(http, self._next_seed()))
            next_at += rng.expovariate(self.rate)
            if self.enterprise_key and self._now() >= next_bulk:
                self._spawn(self._bulk(http))
                next_bulk += self.bulk_every
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _next_seed(self) -> int:
        self._n += 1
        return self.seed * 10_000_000 + self._n

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _post(
        self, http: aiohttp.ClientSession, path: str, body: Any, headers: dict[str, str], source: str
    ) -> Answer:
        kind = str(body.get("kind", "")) if isinstance(body, dict) else ""
        sent = self._now()
        try:
            async with http.post(self.front_url + path, json=body, headers=headers) as response:
                doc = await response.json(content_type=None)
                status = response.status
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            answer = Answer(sent, self._now(), source, None, (), type(exc).__name__, kind)
            self.answers.append(answer)
            return answer
        tickets: tuple[str, ...] = ()
        if status in (200, 202) and isinstance(doc, dict):
            if "ticket_id" in doc:
                tickets = (str(doc["ticket_id"]),)
            elif "tickets" in doc:
                tickets = tuple(str(t) for t in doc["tickets"] if t)
        error = str(doc.get("error", "")) if isinstance(doc, dict) else ""
        answer = Answer(sent, self._now(), source, status, tickets, error, kind)
        self.answers.append(answer)
        return answer

    async def _citizen(self, http: aiohttp.ClientSession, seed: int) -> None:
        body = submission(seed)
        auth = citizen_tokens.header(self.tokens, body["citizen_id"])
        answer = await self._post(http, "/v1/submissions", body, auth, "citizen")
        if answer.status is None:
            await asyncio.sleep(RETRY_AFTER_NO_ANSWER)
            await self._post(http, "/v1/submissions", body, auth, "citizen retry")

    async def surge(self, http: aiohttp.ClientSession, citizens: int = 30, items: int = 200) -> None:
        """Work in every place a message can be when a fault hits: a batch of ``items`` (bundles in the
        staging queue, then tickets in the work queue, some booked into a later window's queue) and
        ``citizens`` submissions at once (in flight at a front door, half-published). Returns at once."""
        if self.enterprise_key:
            self._spawn(self._bulk(http, items))
        for _ in range(citizens):
            self._spawn(self._citizen(http, self._next_seed()))
        await asyncio.sleep(0)  # let them start

    async def _bulk(self, http: aiohttp.ClientSession, size: int | None = None) -> None:
        items = [submission(self._next_seed()) for _ in range(size or self.bulk_items)]
        headers = {"Authorization": f"Bearer {self.enterprise_key}", "Idempotency-Key": f"chaos-{self._n}"}
        answer = await self._post(http, "/v1/bulk", {"items": items}, headers, "bulk")
        if answer.status is None:
            await asyncio.sleep(RETRY_AFTER_NO_ANSWER)
            await self._post(http, "/v1/bulk", {"items": items}, headers, "bulk retry")
