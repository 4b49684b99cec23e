"""The status API: ticket documents, long-polling, 404s decided without Redis, the citizen page."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp.test_utils import make_mocked_request
from redis.asyncio import Redis

from bench.private_rabbit import free_port
from queue_config.settings import Settings
from queue_config.stores.redis.tickets import RedisTicketStore
from queue_config.ticket_ids import TicketIds
from status_api.app import build_app as build_status
from status_api.tickets import REREAD_SECONDS, parse_wait
from tests.support.system import Served, System, start_system, submission


async def test_unknown_and_forged_ticket_ids_are_404(system: System) -> None:
    code, accepted, _ = await system.submit(submission("pension", system.next_n()))
    assert code == 202
    real = accepted["ticket_id"]
    tampered = real[:-1] + ("a" if real[-1] != "a" else "b")
    forged_by_other_secret = TicketIds(b"another-secret-of-32-bytes-long!").mint()
    for ticket_id in (tampered, forged_by_other_secret, "abc", "../../etc/passwd", "x" * 42):
        status, doc = await system.ticket(ticket_id)
        assert (status, doc["error"]) == (404, "not_found"), ticket_id


async def test_a_well_formed_id_that_was_never_issued_is_404(system: System, redis: object) -> None:
    # Minted with the real secret but never stored: passes the MAC, misses in Redis
    assert system.status is not None
    from status_api.tickets import READER

    never_issued = system.status.app[READER].ids.mint()
    status, doc = await system.ticket(never_issued)
    assert (status, doc["error"]) == (404, "not_found")


async def test_forged_ids_are_decided_without_touching_redis(
    settings: Settings, http: aiohttp.ClientSession
) -> None:
    # Given a status API whose Redis is unreachable (it knows the secret from its settings)
    dead_redis = settings.replace(
        redis_url=f"redis://127.0.0.1:{free_port()}/0",
        ticket_secret="a-fixed-secret-for-this-test-only",
        redis_timeout_seconds=0.5,
    )
    served = await Served(await build_status(dead_redis)).start()
    try:
        ids = TicketIds(b"a-fixed-secret-for-this-test-only")
        # When a forged ID is read, the answer is 404 (no Redis needed to know it is fake)
        async with http.get(f"{served.url}/v1/tickets/{TicketIds(b'x' * 32).mint()}") as r:
            assert r.status == 404
        # ...whereas a genuine ID needs Redis, so the same server answers 503 for it
        async with http.get(f"{served.url}/v1/tickets/{ids.mint()}") as r:
            assert r.status == 503
            assert r.headers["Retry-After"].isdigit()
    finally:
        await served.stop()


async def test_a_queued_ticket_shows_position_eta_and_a_poll_hint(system: System) -> None:
    body = submission("pension", system.next_n())
    code, accepted, _ = await system.submit(body)
    assert code == 202
    status, doc = await system.ticket(accepted["ticket_id"])
    assert status == 200
    assert set(doc) >= {
        "ticket_id",
        "kind",
        "status",
        "attempts",
        "eta_seconds",
        "position",
        "created_at",
        "updated_at",
        "poll_after_seconds",
    }
    assert doc["created_at"].endswith("Z")
    if doc["status"] != "done":
        assert doc["eta_seconds"] > 0 and doc["position"] >= 0
        assert 1 <= doc["poll_after_seconds"] <= 60
    done = await system.wait_for_status(accepted["ticket_id"], {"done"}, owner=body["citizen_id"])
    assert done["poll_after_seconds"] >= 60 and "result" in done and "error" not in done


async def test_wait_returns_as_soon_as_the_status_changes(system: System) -> None:
    # Given a payment whose first core call fails, so it stays queued/retrying for a moment
    body = submission("payment", system.next_n())
    body["payload"]["amount_cents"] = 4_242_100
    await system.add_fault({"amount_cents": 4_242_100}, transient=1)
    _, accepted, _ = await system.submit(body)
    ticket_id = accepted["ticket_id"]
    _, before = await system.ticket(ticket_id)

    # When a reader long-polls for 20 seconds
    started = time.monotonic()
    _, after = await system.ticket(ticket_id, wait=20)
    elapsed = time.monotonic() - started

    # Then it is answered at the ticket's next transition, well before the 20 seconds are up (the status
    # string alone may be the same again: processing -> retrying -> processing within the wait)
    assert after["updated_at"] != before["updated_at"] or before["status"] == "done"
    assert elapsed < 15


async def test_wait_on_a_finished_ticket_answers_at_once(system: System) -> None:
    _, accepted, _ = await system.submit(submission("transfer", system.next_n()))
    await system.wait_for_status(accepted["ticket_id"], {"done"})
    started = time.monotonic()
    status, doc = await system.ticket(accepted["ticket_id"], wait=30)
    assert status == 200 and doc["status"] == "done"
    assert time.monotonic() - started < 5


async def test_invalid_wait_is_422_and_above_30_is_capped(system: System) -> None:
    _, accepted, _ = await system.submit(submission("transfer", system.next_n()))
    await system.wait_for_status(accepted["ticket_id"], {"done"})
    for bad in ("abc", "-1", "nan", "inf"):
        assert system.status is not None
        async with system.http.get(
            f"{system.status.url}/v1/tickets/{accepted['ticket_id']}", params={"wait": bad}
        ) as r:
            assert r.status == 422, bad
            assert "query.wait" in (await r.json())["fields"]
    for raw, expected in (("999", 30.0), ("30", 30.0), ("2.5", 2.5), ("0", 0.0)):
        request = make_mocked_request("GET", f"/v1/tickets/x?wait={raw}")
        assert parse_wait(request) == expected


@pytest.fixture
async def quiet(
    fresh_namespace: Settings, http: aiohttp.ClientSession, redis: Redis
) -> AsyncIterator[System]:
    """A system whose tickets nobody processes (no workers in its namespace)."""
    system = await start_system(fresh_namespace, http, redis, workers=False)
    yield system
    await system.stop()


async def test_wait_holds_no_longer_than_asked_when_nothing_changes(quiet: System) -> None:
    _, accepted, _ = await quiet.submit(submission("payment", 1))
    # When a reader waits 1.5 s for a change that never comes
    started = time.monotonic()
    status, doc = await quiet.ticket(accepted["ticket_id"], wait=1.5)
    elapsed = time.monotonic() - started
    # Then it is answered with the unchanged status after about that long
    assert (status, doc["status"]) == (200, "queued")
    assert 1.4 <= elapsed < 10


async def test_the_citizen_page_shows_status_in_chinese_and_english(system: System) -> None:
    _, accepted, _ = await system.submit(submission("payment", system.next_n()))
    assert system.status is not None
    page_url = f"{system.status.url}/t/{accepted['ticket_id']}"
    async with system.http.get(page_url) as r:
        assert r.status == 200 and r.content_type == "text/html"
        text = await r.text()
        assert accepted["ticket_id"] in text and "办理进度" in text and "Ticket status" in text
    await system.wait_for_status(accepted["ticket_id"], {"done"})
    async with system.http.get(page_url) as r:
        text = await r.text()
        assert "已办结" in text and "Done" in text
        # A page opened from a link carries no token: it says where the result is, without its details
        assert "receipt_id" not in text and "Sign in to the portal to see the result" in text
        assert 'http-equiv="refresh"' not in text  # finished: no more refreshing
    async with system.http.get(f"{system.status.url}/t/<script>alert(1)</script>") as r:
        assert r.status == 404
        assert "<script>" not in await r.text()


async def test_health_endpoints(system: System) -> None:
    assert system.status is not None and system.frontdoor is not None
    for base in (system.status.url, system.frontdoor.url):
        async with system.http.get(base + "/healthz") as r:
            assert r.status == 200
        async with system.http.get(base + "/readyz") as r:
            assert r.status == 200 and (await r.json())["status"] == "ready"
    await asyncio.sleep(0)


async def test_a_change_made_while_the_subscription_is_down_still_wakes_its_reader(quiet: System) -> None:
    # Given a reader long-polling a ticket nobody processes
    _, accepted, _ = await quiet.submit(submission("payment", 2))
    ticket_id = accepted["ticket_id"]
    reader = asyncio.create_task(quiet.ticket(ticket_id, wait=25))
    await asyncio.sleep(0.5)
    # When the status API's subscription is cut and the ticket finishes before it is back (its notice
    # published to nobody)
    await quiet.redis.execute_command("CLIENT", "KILL", "TYPE", "pubsub")  # type: ignore[no-untyped-call]
    store = RedisTicketStore.from_settings(quiet.redis, quiet.settings)
    assert await store.finish(ticket_id, "payment", result={"receipt_id": "r-1"})
    finished = time.monotonic()
    # Then the reader is answered once the subscription is back, not at its 10 s re-read
    status, doc = await reader
    assert (status, doc["status"]) == (200, "done")
    assert time.monotonic() - finished < REREAD_SECONDS - 2


async def test_a_stopping_status_api_answers_its_long_polls_at_once(quiet: System) -> None:
    # Given a reader long-polling a ticket nobody processes
    _, accepted, _ = await quiet.submit(submission("payment", 3))
    reader = asyncio.create_task(quiet.ticket(accepted["ticket_id"], wait=25))
    await asyncio.sleep(0.5)
    # When its status API stops
    assert quiet.status is not None
    started = time.monotonic()
    await quiet.status.stop()
    quiet.status = None
    # Then the reader is answered with the ticket as it is, at once: no cut connection, no 25 s stop
    status, doc = await reader
    assert (status, doc["status"]) == (200, "queued")
    assert time.monotonic() - started < 5
