"""The typed contract (``queue_config.web.contract``) against real answers: each body a server sends,
for every kind and for errors, converts strictly into the type its OpenAPI schema was derived from. So
the document cannot say one thing while the servers say another."""

from __future__ import annotations

import datetime as dt
import re
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

    done = await system.wait_for_status(ticket.ticket_id, {"done", "failed"}, owner=body["citizen_id"])
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


def _timestamps(doc: Any, path: str = "") -> list[tuple[str, Any]]:
    """Every value in ``doc`` that is a time: under a key named ``at`` or ending in ``_at`` or ``_time``,
    or any number large enough to be unix seconds."""
    found: list[tuple[str, Any]] = []
    if isinstance(doc, dict):
        for key, value in doc.items():
            where = f"{path}.{key}"
            if (key == "at" or key.endswith(("_at", "_time"))) and not isinstance(value, dict | list):
                found.append((where, value))
            else:
                found += _timestamps(value, where)
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            found += _timestamps(value, f"{path}[{i}]")
    elif isinstance(doc, int | float) and not isinstance(doc, bool) and doc > 1e9:
        found.append((path, doc))
    return found


async def test_every_timestamp_in_every_answer_is_iso_8601_with_an_offset(served: System) -> None:
    # Given a ticket, an enterprise with a batch, a dead letter and an audit trail
    system = served
    assert system.frontdoor is not None and system.status is not None
    front, status = system.frontdoor.url, system.status.url
    answers: dict[str, Any] = {}
    code, accepted, _ = await system.submit(submission("payment", system.next_n()))
    answers["202"] = accepted
    answers["ticket"] = await system.wait_for_status(accepted["ticket_id"], {"done"})
    answers["ticket"].pop("_seen")
    await system.add_fault({"to_region": "650102"}, permanent=True)
    refused = submission("transfer", system.next_n())
    refused["payload"]["to_region"] = "650102"
    code, failed, _ = await system.submit(refused)
    await system.wait_for_status(failed["ticket_id"], {"failed"})
    code, enterprise = await _call(
        system, "POST", front + "/v1/admin/enterprises", json={"name": "Clock Ltd"}, headers=OPERATOR
    )
    answers["enterprise"] = enterprise
    key = {"Authorization": f"Bearer {enterprise['api_key']}"}
    items = [submission("payment", system.next_n()) for _ in range(2)]
    code, batch = await _call(system, "POST", front + "/v1/bulk", json={"items": items}, headers=key)
    answers["bulk"] = batch
    for name, method, url, headers in (
        ("batch", "GET", batch["status_url"], key),
        ("throttle", "GET", front + "/v1/admin/throttle", OPERATOR),
        ("enterprises", "GET", front + "/v1/admin/enterprises", OPERATOR),
        ("forecast", "GET", front + "/v1/admin/forecast", OPERATOR),
        ("dead letters", "GET", front + "/v1/admin/dead-letters?kind=transfer", OPERATOR),
        ("dead letter", "GET", front + f"/v1/admin/dead-letters/{failed['ticket_id']}", OPERATOR),
        ("audit", "GET", front + "/v1/admin/audit", OPERATOR),
        ("eta stats", "GET", status + "/v1/stats/eta", {}),
        ("revoke", "DELETE", front + f"/v1/admin/enterprises/{enterprise['enterprise_id']}", OPERATOR),
    ):
        code, answers[name] = await _call(system, method, url, headers=headers)
        assert code == 200, (name, answers[name])

    # Then every time in them is ISO 8601 with an offset (SPEC, Additions), or null
    wrong = []
    for name, doc in answers.items():
        for where, value in _timestamps(doc):
            if value is None:
                continue
            try:
                ok = isinstance(value, str) and dt.datetime.fromisoformat(value).utcoffset() is not None
            except ValueError:
                ok = False
            if not ok:
                wrong.append(f"{name}{where}")
    # Said once a place, whatever the index in a list
    assert not wrong, sorted({re.sub(r"\[\d+\]|(?<=kinds\.)\w+", "*", w) for w in wrong})
    assert any(_timestamps(answers["forecast"])) and any(_timestamps(answers["enterprise"]))
