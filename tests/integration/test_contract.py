"""The typed contract (``queue_config.web.contract``) against real answers: each body a server sends,
for every kind and for errors, converts strictly into the type its OpenAPI schema was derived from. So
the document cannot say one thing while the servers say another."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import msgspec
import pytest
from redis.asyncio import Redis

from queue_config.kinds import KINDS
from queue_config.planning.throttle import Throttle
from queue_config.settings import Settings
from queue_config.web import contract
from tests.support.system import System, start_system, submission

TOKEN = "op-token-contract-tests"
OPERATOR = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
async def served(
    fresh_namespace: Settings, http: aiohttp.ClientSession, redis: Redis
) -> AsyncIterator[System]:
    system = await start_system(fresh_namespace.replace(operator_token=TOKEN), http, redis)
    yield system
    await system.stop()


def typed(doc: Any, shape: type[msgspec.Struct]) -> msgspec.Struct:
    return msgspec.convert(doc, shape)


async def _call(system: System, method: str, url: str, **kwargs: Any) -> tuple[int, Any]:
    async with system.http.request(method, url, **kwargs) as response:
        return response.status, await response.json(content_type=None)


@pytest.mark.parametrize("kind", KINDS)
async def test_a_ticket_of_every_kind_is_answered_in_its_typed_shape(served: System, kind: str) -> None:
    system = served
    body = submission(kind, system.next_n())
    code, accepted, _ = await system.submit(body)
    assert code == 202
    ticket = typed(accepted, contract.Accepted)
    assert isinstance(ticket, contract.Accepted) and ticket.kind == kind and ticket.status == "queued"
    # The same body again: the same ticket, the same shape
    code, again, _ = await system.submit(body)
    repeat = typed(again, contract.Accepted)
    assert code == 200 and isinstance(repeat, contract.Accepted) and repeat.ticket_id == ticket.ticket_id

    done = await system.wait_for_status(ticket.ticket_id, {"done", "failed"})
    done.pop("_seen")
    read = typed(done, contract.Ticket)
    assert isinstance(read, contract.Ticket) and read.status == "done"
    assert read.result is not msgspec.UNSET and read.created_at.utcoffset() is not None


async def test_errors_are_answered_in_the_error_shape(served: System) -> None:
    system = served
    assert system.frontdoor is not None and system.status is not None
    code, invalid, _ = await system.submit({"kind": "payment", "citizen_id": "1", "payload": {}})
    assert code == 422
    error = typed(invalid, contract.Error)
    assert isinstance(error, contract.Error) and error.fields is not msgspec.UNSET
    assert set(error.fields) >= {"citizen_id", "payload.scheme"}
    for url in (system.status.url + "/v1/tickets/" + "a" * 42, system.frontdoor.url + "/v1/nowhere"):
        code, missing = await _call(system, "GET", url)
        assert code == 404 and isinstance(typed(missing, contract.Error), contract.Error)


async def test_operator_and_bulk_answers_are_in_their_typed_shapes(served: System) -> None:
    system = served
    assert system.frontdoor is not None and system.status is not None
    front = system.frontdoor.url
    code, throttle = await _call(system, "GET", front + "/v1/admin/throttle", headers=OPERATOR)
    assert code == 200 and isinstance(typed(throttle, Throttle), Throttle)
    code, dry = await _call(
        system,
        "PUT",
        front + "/v1/admin/throttle?dry_run=true",
        json={"max_wait_seconds": 60},
        headers=OPERATOR,
    )
    assert code == 200 and isinstance(typed(dry, contract.ThrottleDryRun), contract.ThrottleDryRun)

    code, enterprise = await _call(
        system, "POST", front + "/v1/admin/enterprises", json={"name": "Typed Ltd"}, headers=OPERATOR
    )
    assert code == 201
    key = {"Authorization": f"Bearer {enterprise['api_key']}"}
    items = [submission("payment", system.next_n()) for _ in range(3)] + [{"kind": "payment"}]
    code, batch = await _call(system, "POST", front + "/v1/bulk", json={"items": items}, headers=key)
    assert code == 202
    accepted = typed(batch, contract.BatchAccepted)
    assert isinstance(accepted, contract.BatchAccepted) and accepted.accepted == 3
    assert [r.index for r in accepted.rejected] == [3]
    code, status = await _call(system, "GET", accepted.status_url, headers=key)
    assert code == 200 and isinstance(typed(status, contract.BatchStatus), contract.BatchStatus)
