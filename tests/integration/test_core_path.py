"""The whole path on the real broker and Redis: every kind goes queued → done with its result."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from queue_config.kinds import KINDS
from tests.support.system import System, submission


@pytest.mark.parametrize("kind", KINDS)
async def test_every_kind_goes_from_queued_to_done_with_its_result(system: System, kind: str) -> None:
    # Given a valid submission of this kind
    body = submission(kind, system.next_n())

    # When the citizen submits it
    code, accepted, headers = await system.submit(body)

    # Then it is accepted with a ticket, a Location and an ETA
    assert code == 202, accepted
    ticket_id = accepted["ticket_id"]
    assert accepted["status"] == "queued" and accepted["kind"] == kind
    assert headers["Location"] == accepted["status_url"]
    assert accepted["status_url"].endswith(f"/v1/tickets/{ticket_id}")
    assert accepted["status_url"].startswith("http://")
    assert accepted["eta_seconds"] > 0 and accepted["eta_p90_seconds"] >= accepted["eta_seconds"]
    assert "X-Request-ID" in headers

    # And the workers finish it with the core system's result, applied exactly once
    done = await system.wait_for_status(ticket_id, {"done", "failed"}, owner=body["citizen_id"])
    assert done["status"] == "done"
    assert done["attempts"] == 1
    assert done["eta_seconds"] is None and done["position"] is None
    expected_key = {"pension": ("estimate_id", "claim_id"), "transfer": ("transfer_id",)}.get(
        kind, ("receipt_id",)
    )
    assert any(k in done["result"] for k in expected_key), done["result"]
    if "amount_cents" in body["payload"]:
        assert done["result"]["amount_cents"] == body["payload"]["amount_cents"]
    assert await system.ledger(ticket_id) == {"effects": 1, "calls": 1}


async def test_a_transient_core_failure_is_retried_then_done(system: System) -> None:
    # Given a core system that fails the first call of this payment with a 503
    body = submission("payment", system.next_n())
    body["payload"]["amount_cents"] = 4_242_001
    await system.add_fault({"amount_cents": 4_242_001}, transient=1)

    # When it is submitted
    code, accepted, _ = await system.submit(body)
    assert code == 202

    # Then the ticket passes through retrying and ends done after two attempts, one effect
    done = await system.wait_for_status(accepted["ticket_id"], {"done", "failed"})
    assert done["status"] == "done", done
    assert done["attempts"] == 2
    assert await system.ledger(accepted["ticket_id"]) == {"effects": 1, "calls": 2}


async def test_retrying_is_visible_while_the_ticket_waits_in_the_delay_queue(system: System) -> None:
    # Given a payment whose first two core calls fail
    body = submission("payment", system.next_n())
    body["payload"]["amount_cents"] = 4_242_002
    await system.add_fault({"amount_cents": 4_242_002}, transient=2)
    code, accepted, _ = await system.submit(body)
    assert code == 202

    # Then a reader sees "retrying" (with the last error) before the ticket is done
    retrying = await system.wait_for_status(accepted["ticket_id"], {"retrying"})
    assert retrying["last_error"]["code"] == "core_503"
    done = await system.wait_for_status(accepted["ticket_id"], {"done", "failed"})
    assert (done["status"], done["attempts"]) == ("done", 3)


async def test_a_permanent_core_failure_fails_at_once_and_is_dead_lettered(system: System) -> None:
    # Given a core system that rejects this transfer outright (422)
    body = submission("transfer", system.next_n())
    body["payload"]["to_region"] = "650101"
    await system.add_fault({"to_region": "650101"}, permanent=True)

    code, accepted, _ = await system.submit(body)
    assert code == 202

    # Then it fails after one attempt, with the core's error, and its message is dead-lettered
    failed = await system.wait_for_status(accepted["ticket_id"], {"done", "failed"})
    assert failed["status"] == "failed" and failed["attempts"] == 1
    assert failed["error"]["code"] == "core_422"
    assert accepted["ticket_id"] in await system.dead_letter_ids("transfer")
    assert (await system.ledger(accepted["ticket_id"]))["effects"] == 0


async def test_exhausted_retries_end_failed_and_dead_lettered(system: System) -> None:
    # Given a core system that is down for this payment longer than the attempt budget
    body = submission("payment", system.next_n())
    body["payload"]["amount_cents"] = 4_242_003
    await system.add_fault({"amount_cents": 4_242_003}, transient=99)

    code, accepted, _ = await system.submit(body)
    assert code == 202

    # Then it ends failed after MAX_ATTEMPTS attempts and lands in the dead-letter queue
    failed = await system.wait_for_status(accepted["ticket_id"], {"done", "failed"})
    assert failed["status"] == "failed"
    assert failed["attempts"] == system.settings.max_attempts == 3
    assert failed["error"]["code"] == "core_503"
    assert accepted["ticket_id"] in await system.dead_letter_ids("payment")
    assert await system.ledger(accepted["ticket_id"]) == {"effects": 0, "calls": 3}


async def test_a_second_claim_for_one_invoice_fails_for_good_and_pays_nothing(system: System) -> None:
    # Given a reimbursement claim for an invoice that was paid
    first = submission("reimbursement", system.next_n())
    code, accepted, _ = await system.submit(first)
    assert code == 202
    paid = await system.wait_for_status(accepted["ticket_id"], {"done", "failed"}, owner=first["citizen_id"])
    assert paid["status"] == "done" and paid["result"]["receipt_id"].startswith("RMB-")

    # When the same invoice is claimed again, by another citizen
    again = submission("reimbursement", system.next_n())
    again["payload"] = {
        **again["payload"],
        **{f: first["payload"][f] for f in ("hospital_code", "invoice_no")},
    }
    code, repeated, _ = await system.submit(again)
    assert code == 202 and repeated["ticket_id"] != accepted["ticket_id"]

    # Then the core refuses it permanently: failed at once, duplicate_invoice, dead-lettered, no effect
    refused = await system.wait_for_status(repeated["ticket_id"], {"done", "failed"})
    assert (refused["status"], refused["attempts"]) == ("failed", 1)
    assert refused["error"]["code"] == "duplicate_invoice"
    assert repeated["ticket_id"] in await system.dead_letter_ids("reimbursement")
    assert (await system.ledger(repeated["ticket_id"]))["effects"] == 0
    assert (await system.ledger(accepted["ticket_id"]))["effects"] == 1


@dataclasses.dataclass(frozen=True)
class DaysFromToday:
    days: int

    def date(self) -> str:
        return (dt.date.today() + dt.timedelta(days=self.days)).isoformat()


@pytest.mark.parametrize(
    ("change", "reasons"),
    [
        ({"hospital_code": "h1101010000"}, {"hospital_code": "12 digits or capital letters"}),
        ({"invoice_no": "inv-1"}, {"invoice_no": "8 to 32 digits or capital letters"}),
        (
            {"amount_cents": 0, "treated_on": "2026-02-30"},
            {"amount_cents": "integer", "treated_on": "calendar"},
        ),
        # Days from today, made a date when the test runs: computed at collection, a run that crossed
        # midnight sent "tomorrow" once it was today (CI, 2026-12-06 00:01).
        ({"treated_on": DaysFromToday(1)}, {"treated_on": "future"}),
        ({"treated_on": DaysFromToday(-366)}, {"treated_on": "365 days"}),
        ({"hospital": "H11010100001"}, {"hospital": "unknown field"}),
    ],
)
async def test_a_reimbursement_claim_names_each_invalid_field(
    system: System, change: dict[str, object], reasons: dict[str, str]
) -> None:
    body = submission("reimbursement", system.next_n())
    body["payload"].update({k: v.date() if isinstance(v, DaysFromToday) else v for k, v in change.items()})
    code, doc, _ = await system.submit(body)
    assert code == 422, doc
    for field, reason in reasons.items():
        assert reason in doc["fields"][f"payload.{field}"], doc["fields"]
