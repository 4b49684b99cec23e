"""What every store back end must do: the same cases run against the in-memory stores
(``tests/unit/test_memory_stores.py``, no servers) and the Redis ones
(``tests/integration/test_redis_stores.py``). Each test takes a ``stores`` fixture and a ``clock``."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from queue_config.key_shards import shard_of_scope
from queue_config.kinds import Status
from queue_config.planning.capacity import CapacityReport
from queue_config.planning.throttle import Mode, Throttle
from queue_config.stores.backend import Stores
from queue_config.stores.limiter import Limit
from queue_config.stores.tickets import Commit, NewTicket, Reservation
from queue_config.ticket_ids import TicketIds

IDS = TicketIds(b"store-contract-secret-of-32-bytes")


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def new_ticket(
    scope: str = "s1",
    body: str = "b1",
    idem: str | None = None,
    kind: str = "payment",
    scheduled: bool = False,
) -> NewTicket:
    # Minted in its scope's key shard, as the front door mints it (a Redis Cluster holds them together).
    ticket_id = IDS.mint(shard_of_scope(scope))
    return NewTicket(ticket_id, kind, scope, body, idem, "110101**********12", scheduled=scheduled)


async def test_a_reservation_is_created_repeated_or_refused_by_its_keys(stores: Stores) -> None:
    first = new_ticket(idem="k1")
    outcome, ticket_id, seq = await stores.tickets.reserve(first)
    assert outcome is Reservation.CREATED and ticket_id == first.ticket_id and seq is not None
    # The same key and body: that ticket; the same key, another body: a conflict
    assert (await stores.tickets.reserve(new_ticket(idem="k1")))[:2] == (Reservation.EXISTING, ticket_id)
    assert (await stores.tickets.reserve(new_ticket(body="b2", idem="k1")))[:2] == (
        Reservation.CONFLICT,
        ticket_id,
    )
    # No key, the same body while the ticket is open: that ticket, not a second one
    assert (await stores.tickets.reserve(new_ticket()))[:2] == (Reservation.DUPLICATE, ticket_id)
    # Another client's identical body is its own ticket
    assert (await stores.tickets.reserve(new_ticket(scope="s2")))[0] is Reservation.CREATED
    assert await stores.tickets.statuses([ticket_id, "nothing"]) == [Status.ACCEPTING, None]


async def test_a_ticket_lives_through_its_transitions_once(stores: Stores, clock: Clock) -> None:
    tickets = stores.tickets
    new = new_ticket()
    await tickets.reserve(new)
    await tickets.commit(new.ticket_id, "payment", clock.now + 30, promise_model=10.0)
    record = await tickets.get(new.ticket_id)
    assert record is not None and record.status is Status.QUEUED and record.attempts == 0

    attempt = await tickets.begin_attempt(new.ticket_id, kind="payment", created_at=0.0, masked_client="x")
    assert (attempt.status, attempt.begun, attempt.failures) == (Status.PROCESSING, 1, 0)
    await tickets.mark_retrying(
        new.ticket_id, "payment", {"code": "core_503"}, due=clock.now + 5, message=b"m"
    )
    assert (await tickets.get(new.ticket_id)).status is Status.RETRYING  # type: ignore[union-attr]
    assert await tickets.sweep_retries("payment", limit=10, rearm_seconds=60) == []
    clock.now += 10
    assert await tickets.sweep_retries("payment", limit=10, rearm_seconds=60) == [(new.ticket_id, b"m")]
    assert await tickets.sweep_retries("payment", limit=10, rearm_seconds=60) == []  # re-armed

    attempt = await tickets.begin_attempt(new.ticket_id, kind="payment", created_at=0.0, masked_client="x")
    assert (attempt.begun, attempt.failures) == (2, 1)
    assert await tickets.finish(new.ticket_id, "payment", result={"receipt_id": "R"}) is True
    assert await tickets.finish(new.ticket_id, "payment", error={"code": "late"}) is False
    done = await tickets.get(new.ticket_id)
    assert done is not None and done.status is Status.DONE and done.result == {"receipt_id": "R"}
    # A redelivered message of a finished ticket finds it finished
    again = await tickets.begin_attempt(new.ticket_id, kind="payment", created_at=0.0, masked_client="x")
    assert again.status is Status.DONE
    assert await tickets.eta_outcomes("payment") == (1, 0)
    _, total, in_buckets = await tickets.finishes("payment", [int(clock.now // 5)])
    assert total >= 1 and in_buckets == 1
    assert await stores.control.unfinished("payment") == 0


async def test_a_failed_ticket_is_a_dead_letter_until_replayed(stores: Stores, clock: Clock) -> None:
    tickets = stores.tickets
    new = new_ticket(kind="transfer")
    await tickets.reserve(new)
    await tickets.commit(new.ticket_id, "transfer")
    await tickets.finish(new.ticket_id, "transfer", error={"code": "core_422"})
    total, rows = await tickets.dead_letters("transfer", 10)
    assert (total, [t for t, _ in rows]) == (1, [new.ticket_id])
    assert await tickets.failed_at("transfer", new.ticket_id) == pytest.approx(clock.now)
    assert await tickets.replay(new.ticket_id, "transfer") is True
    assert await tickets.replay(new.ticket_id, "transfer") is False
    record = await tickets.get(new.ticket_id)
    assert record is not None and record.status is Status.QUEUED and record.error is None
    assert (await tickets.dead_letters("transfer", 10))[0] == 0


async def test_a_discarded_reservation_leaves_no_trace_but_a_committed_one_stays(stores: Stores) -> None:
    tickets = stores.tickets
    kept, dropped = new_ticket(body="b1", idem="k1"), new_ticket(body="b2", idem="k2")
    for new in (kept, dropped):
        await tickets.reserve(new)
    await tickets.commit(kept.ticket_id, "payment")
    for new in (kept, dropped):
        await tickets.discard(
            new.ticket_id,
            "payment",
            scope="s1",
            body_digest=new.body_digest,
            idempotency_digest=new.idempotency_digest,
        )
    assert await tickets.statuses([kept.ticket_id, dropped.ticket_id]) == [Status.QUEUED, None]
    # The discarded one's keys are free again
    assert (await tickets.reserve(new_ticket(body="b2", idem="k2")))[0] is Reservation.CREATED


async def test_scheduled_tickets_take_their_place_when_released(stores: Stores) -> None:
    tickets = stores.tickets
    many = [new_ticket(body=f"b{i}", scheduled=True) for i in range(3)]
    replies = await tickets.reserve_many("payment", "s1", "batch1", many)
    assert [(r, s) for r, _, s in replies] == [(Reservation.CREATED, None)] * 3
    await tickets.commit_many("payment", [Commit(t.ticket_id, scheduled_for=1.0) for t in many])
    assert set(await tickets.statuses([t.ticket_id for t in many])) == {Status.SCHEDULED}
    await tickets.release([t.ticket_id for t in many], "payment")
    records = [await tickets.get(t.ticket_id) for t in many]
    assert all(r is not None and r.status is Status.QUEUED and r.seq for r in records)


async def test_the_limiter_charges_every_limit_or_none(stores: Stores) -> None:
    key = stores.names.rate_limit(uuid.uuid4().hex)
    tight, loose = Limit.per_minute(f"{key}:tight", 2), Limit.per_minute(f"{key}:loose", 100)
    assert (await stores.limiter.acquire([loose, tight])).allowed
    assert (await stores.limiter.acquire([loose, tight])).allowed
    refused = await stores.limiter.acquire([loose, tight])
    assert not refused.allowed and refused.exceeded == tight.key and refused.retry_after_seconds > 0
    # The refused call charged nothing: the loose limit still has 98 of its 100
    for _ in range(98):
        assert (await stores.limiter.acquire([loose])).allowed
    assert not (await stores.limiter.acquire([loose])).allowed
    assert not (await stores.limiter.acquire([Limit.per_second(f"{key}:zero", 0, 1)])).allowed


async def test_the_throttle_plan_lease_and_outlook_are_kept(stores: Stores) -> None:
    assert await stores.throttle.get() == stores.throttle.defaults
    manual = Throttle(mode=Mode.MANUAL, rates={"payment": 5.0})
    await stores.throttle.put(manual)
    assert await stores.throttle.get() == manual
    control = stores.control
    assert await control.hold_lease("a", 3000) and await control.hold_lease("a", 3000)
    assert not await control.hold_lease("b", 3000)
    await control.write_plan(b'{"plan":1}', ttl_ms=10_000, kept_seconds=60)
    plan, throttle = await control.plan_and_throttle()
    assert plan == b'{"plan":1}' and throttle is not None and await control.last_plan() == plan
    await control.save_forecast_state("payment", {"level": 3}, ttl_seconds=60)
    assert await control.forecast_state("payment") == {"level": 3}
    await control.write_outlook("payment", outlook={"at": 1}, calendar={"windows": [[1, 2]]}, ttl_seconds=60)
    assert await control.outlooks(["payment", "pension"]) == [{"at": 1}, None]
    assert await stores.windows.calendar("payment") == {"windows": [[1, 2]]}


async def test_traffic_and_capacity_reports_add_up(stores: Stores, clock: Clock) -> None:
    second = int(clock.now)
    await stores.traffic.add({("payment", "arrivals", second): 3, ("payment", "arrivals", second + 1): 4})
    assert await stores.traffic.seconds("payment", "arrivals", [second, second + 1, second + 2]) == [3, 4, 0]
    assert await stores.traffic.minutes("payment", "arrivals", [second // 60]) == [
        7 if (second + 1) // 60 == second // 60 else 3
    ]
    report = CapacityReport(at=clock.now, limit=8, inflight=2, held=1, latency=0.5, baseline=0.4, completed=9)
    await stores.capacity.publish("w1", {"payment": report})
    assert await stores.capacity.fresh("payment", clock.now) == [report]
    assert await stores.capacity.fresh("payment", clock.now + 60) == []


async def test_enterprises_are_created_authenticated_and_revoked(stores: Stores) -> None:
    new = await stores.enterprises.create("Acme", 1000)
    assert (await stores.enterprises.authenticate(new.api_key)) == new.enterprise
    assert await stores.enterprises.authenticate("tg_" + "x" * 40) is None
    revoked = await stores.enterprises.revoke(new.enterprise.enterprise_id)
    assert revoked is not None and revoked.revoked_at is not None
    assert await stores.enterprises.authenticate(new.api_key) is None
    assert new.enterprise.enterprise_id in {e.enterprise_id for e in await stores.enterprises.all()}


async def test_bulk_windows_are_booked_within_their_budgets(stores: Stores, clock: Clock) -> None:
    windows = stores.windows
    kind = "k" + uuid.uuid4().hex[:6]
    booked = await windows.book(kind, 10, forget_before=0, windows=[(100, 4), (200, 4), (300, 4)])
    assert booked == [(100, 4), (200, 4), (300, 2)]
    assert await windows.book(kind, 3, forget_before=0, windows=[(100, 4), (300, 4)]) == [(300, 2)]
    await windows.unbook(kind, {300: 4})
    assert await windows.book(kind, 1, forget_before=150, windows=[(100, 4), (300, 4)]) == [(100, 1)]
    member = f"{kind}:{int(clock.now) - 1}"
    await windows.opening({member: int(clock.now) - 1})
    assert member in await windows.due(100)
    assert await windows.lock(member, 30_000) and not await windows.lock(member, 30_000)
    await windows.unlock(member)
    await windows.opened(member)
    assert member not in await windows.due(100)


async def test_batches_keep_their_key_and_answer(stores: Stores) -> None:
    batch = IDS.mint(shard_of_scope("scope"))
    assert await stores.batches.open(batch, enterprise_id="e1", total=2, callback_url=None)
    assert not await stores.batches.open(batch, enterprise_id="e1", total=2, callback_url=None)
    assert await stores.batches.keep_key("scope", "key", batch, "digest", ttl_seconds=60)
    assert not await stores.batches.keep_key("scope", "key", "other", "digest", ttl_seconds=60)
    assert await stores.batches.find_key("scope", "key") == (batch, "digest")
    await stores.batches.accepted(batch, tickets=["t1", None], created=1, response=b"{}")
    assert await stores.batches.response(batch) == b"{}"
    meta = await stores.batches.meta(batch)
    assert meta is not None and meta["enterprise_id"] == "e1"


async def test_the_audit_log_keeps_entries_newest_first_and_announces_throttle_changes(
    stores: Stores,
) -> None:
    async with stores.notices.throttle_changes() as changes:
        await stores.audit.record(token="t", action="one", before=None, after=1)
        await stores.audit.record(token="t", action="two", before=1, after=2, throttle_changed=True)
        assert await changes.next(timeout=2.0) is not None
    assert [e["action"] for e in (await stores.audit.entries())[:2]] == ["two", "one"]


async def test_a_ticket_change_is_announced(stores: Stores) -> None:
    new = new_ticket()
    await stores.tickets.reserve(new)
    await stores.tickets.commit(new.ticket_id, "payment")
    async with stores.notices.ticket_changes() as changes:
        await asyncio.sleep(0.05)
        await stores.tickets.begin_attempt(new.ticket_id, kind="payment", created_at=0.0, masked_client="x")
        assert await changes.next(timeout=2.0) == new.ticket_id
