"""The system under test, assembled in-process on free ports against the real broker and Redis."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import aiohttp
from aiohttp import web
from redis.asyncio import Redis

from bench.coresim.app import build_app as build_core_app
from bench.coresim.model import CoreSettings
from bench.private_rabbit import free_port
from frontdoor.app import build_app as build_frontdoor
from frontdoor.app_keys import BROKER
from queue_config.kinds import KINDS, REGISTRY
from queue_config.messages import decode, decode_bundle, is_bundle
from queue_config.names import Names
from queue_config.resident_id import make as make_resident_id
from queue_config.settings import Settings
from queue_config.web import serving
from status_api.app import build_app as build_status
from tests.support.identity import TokenBook
from workers.pool import WorkerPool


class Served:
    """An aiohttp application served on 127.0.0.1 at a free port (or the one given)."""

    def __init__(self, app: web.Application, port: int | None = None) -> None:
        self.app = app
        self.port = port or free_port()
        self._runner = serving.runner(app)  # the entry points' own: timeouts, JSON protocol errors

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> Served:
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        await self._runner.cleanup()


DEFAULT_CITIZEN = make_resident_id(0)


def payload_for(kind: str, n: int = 0) -> dict[str, Any]:
    """The kind's example payload (``queue_config.kinds``), distinct by ``n``."""
    return REGISTRY[kind].example(n)


def submission(kind: str = "payment", n: int = 0, **overrides: Any) -> dict[str, Any]:
    body = {"kind": kind, "citizen_id": make_resident_id(n), "payload": payload_for(kind, n)}
    body.update(overrides)
    return body


@dataclass
class System:
    settings: Settings
    http: aiohttp.ClientSession
    redis: Redis
    frontdoor: Served | None = None
    status: Served | None = None
    core: Served | None = None
    pool: WorkerPool | None = None
    _counter: int = field(default=0)
    _tokens: TokenBook | None = None

    @property
    def tokens(self) -> TokenBook:
        """Citizens' tokens from the identity provider that AUTH_ISSUER names."""
        if self._tokens is None:
            self._tokens = TokenBook(self.http, self.settings.auth_issuer)
        return self._tokens

    @property
    def names(self) -> Names:
        return Names(self.settings.namespace)

    def next_n(self) -> int:
        self._counter += 1
        return self._counter

    async def submit(
        self,
        body: Any,
        headers: Mapping[str, str] | None = None,
        *,
        raw: bytes | None = None,
        auth: bool = True,
    ) -> tuple[int, dict[str, Any], Mapping[str, str]]:
        """POST a submission with the token of the citizen it names (of a default citizen when it names
        none, so that a malformed body meets the check it is meant for); ``auth=False`` sends none."""
        assert self.frontdoor is not None
        hdrs = {"Content-Type": "application/json"}
        if auth and self.settings.auth_required:
            citizen = body.get("citizen_id") if isinstance(body, dict) else None
            hdrs.update(await self.tokens.header(citizen if isinstance(citizen, str) else DEFAULT_CITIZEN))
        hdrs.update(headers or {})
        data = raw if raw is not None else aiohttp.payload.JsonPayload(body)
        async with self.http.post(
            f"{self.frontdoor.url}/v1/submissions", data=data, headers=hdrs
        ) as response:
            doc = await response.json(content_type=None)
            return response.status, doc, response.headers

    async def ticket(
        self, ticket_id: str, wait: float | None = None, headers: Mapping[str, str] | None = None
    ) -> tuple[int, dict[str, Any]]:
        assert self.status is not None
        params = {"wait": str(wait)} if wait is not None else {}
        async with self.http.get(
            f"{self.status.url}/v1/tickets/{ticket_id}", params=params, headers=headers
        ) as response:
            return response.status, await response.json(content_type=None)

    async def wait_for_status(
        self, ticket_id: str, statuses: set[str], timeout: float = 30.0, *, owner: str | None = None
    ) -> dict[str, Any]:
        """Long-poll the status API until the ticket reaches one of ``statuses``; as the citizen
        ``owner`` names (with its token: a done ticket's result), or as anyone."""
        deadline = time.monotonic() + timeout
        seen: list[str] = []
        headers = await self.tokens.header(owner) if owner else None
        while time.monotonic() < deadline:
            code, doc = await self.ticket(
                ticket_id, wait=min(5.0, deadline - time.monotonic()), headers=headers
            )
            if code == 503 and "retry_after_seconds" in doc:
                # Redis is coming back: a client polls again, as told, rather than give up.
                await asyncio.sleep(0.5)
                continue
            assert code == 200, doc
            if not seen or seen[-1] != doc["status"]:
                seen.append(doc["status"])
            if doc["status"] in statuses:
                doc["_seen"] = seen
                return doc
        raise AssertionError(f"ticket {ticket_id} stuck; statuses seen: {seen}")

    async def ledger(self, key: str | None = None) -> dict[str, int]:
        assert self.core is not None
        path = f"/v1/ledger/{key}" if key else "/v1/ledger"
        async with self.http.get(self.core.url + path) as response:
            return dict(await response.json())

    async def add_fault(self, match: dict[str, Any], transient: int = 0, permanent: bool = False) -> None:
        assert self.core is not None
        async with self.http.post(
            self.core.url + "/v1/faults",
            json={"match": match, "transient": transient, "permanent": permanent},
        ) as response:
            assert response.status == 201

    async def queued_ticket_ids(self, queue: str) -> list[str]:
        """The ticket IDs in a queue, counting each ticket of a bundle (read and requeued)."""
        connection = await aio_pika.connect(self.settings.amqp_url, timeout=10)
        ids: list[str] = []
        async with connection:
            channel = await connection.channel()
            source = await channel.get_queue(queue)
            held = []
            while (message := await source.get(fail=False)) is not None:
                if is_bundle(message.headers):
                    ids += [t.ticket_id for t in decode_bundle(message.body)]
                else:
                    ids.append(decode(message.body).ticket_id)
                held.append(message)
            for message in held:
                await message.nack(requeue=True)
        return ids

    async def queue_depth(self, queue: str) -> int:
        connection = await aio_pika.connect(self.settings.amqp_url, timeout=10)
        async with connection:
            channel = await connection.channel()
            declared = await channel.declare_queue(queue, passive=True)
            return int(declared.declaration_result.message_count or 0)

    async def dead_letter_ids(self, kind: str) -> list[str]:
        """Message IDs in the kind's dead-letter queue (read and requeued, so nothing is removed)."""
        connection = await aio_pika.connect(self.settings.amqp_url, timeout=10)
        ids: list[str] = []
        async with connection:
            channel = await connection.channel()
            queue = await channel.get_queue(self.names.dead_queue(kind))
            held = []
            while (message := await queue.get(fail=False)) is not None:
                ids.append(message.message_id or "")
                held.append(message)
            for message in held:
                await message.nack(requeue=True)
        return ids

    async def stop(self) -> None:
        for part in (self.frontdoor, self.status):
            if part is not None:
                await part.stop()
        if self.pool is not None:
            await self.pool.stop()
        if self.core is not None:
            await self.core.stop()


async def start_system(
    settings: Settings,
    http: aiohttp.ClientSession,
    redis: Redis,
    *,
    frontdoor: bool = True,
    status: bool = True,
    workers: bool = True,
    core: CoreSettings | None = None,
) -> System:
    system = System(settings, http, redis)
    if workers or core is not None:
        core_settings = core or CoreSettings(slots=16, service_ms=20)
        system.core = await Served(build_core_app(core_settings)).start()
        system.settings = settings = settings.replace(core_url=system.core.url)
    if status:
        system.status = await Served(await build_status(settings)).start()
        system.settings = settings = settings.replace(public_status_url=system.status.url)
    if frontdoor:
        system.frontdoor = await Served(await build_frontdoor(settings)).start()
        await system.frontdoor.app[BROKER].wait_connected(20)
    if workers:
        system.pool = WorkerPool(settings, list(KINDS))
        await system.pool.start()
    return system


async def drain(system: System, ticket_ids: list[str], timeout: float = 60.0) -> dict[str, str]:
    """Wait until every ticket is done or failed (arq's burst mode, for tests): no sleeps."""
    results = await asyncio.gather(
        *(system.wait_for_status(t, {"done", "failed"}, timeout) for t in ticket_ids)
    )
    return {t: r["status"] for t, r in zip(ticket_ids, results, strict=True)}
