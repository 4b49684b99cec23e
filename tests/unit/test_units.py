"""Unit tests of the pure parts: resident IDs, ticket IDs, settings, retry timing, ETA, log masking."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Sequence

import pytest
import structlog

from queue_config import resident_id
from queue_config.errors import ConfigError, MessageRejected
from queue_config.messages import TicketMessage, decode, encode
from queue_config.observability import logs
from queue_config.planning import lateness
from queue_config.planning.admission_plan import KindPlan
from queue_config.planning.eta import EtaEstimator
from queue_config.planning.throttle import Throttle
from queue_config.settings import Settings
from queue_config.ticket_ids import ID_LENGTH, TicketIds
from queue_config.topology import Topology
from workers.retries.retry_policy import RetryPolicy


# --- resident IDs --------------------------------------------------------------------------------
@pytest.mark.parametrize("valid", ["11010519491231002X", "440524188001010014", "110101198001010071"[:17]])
def test_known_resident_ids_check_out(valid: str) -> None:
    full = valid if len(valid) == 18 else valid + resident_id.check_character(valid)
    assert resident_id.problem(full) is None
    assert resident_id.problem(full[:17] + ("0" if full[17] != "0" else "1")) is not None


def test_the_check_character_follows_iso_7064_mod_11_2() -> None:
    # The published example of GB 11643: 11010519491231002X
    assert resident_id.check_character("11010519491231002") == "X"
    assert resident_id.normalize("11010519491231002x") == "11010519491231002X"
    assert resident_id.problem("11010519491231002x") is None


def test_masking_keeps_only_six_and_two() -> None:
    assert resident_id.mask("11010519491231002X") == "110105**********2X"


# --- ticket IDs ----------------------------------------------------------------------------------
def test_ticket_ids_are_unique_verifiable_and_unforgeable() -> None:
    ids = TicketIds(b"k" * 32)
    minted = {ids.mint() for _ in range(1000)}
    assert len(minted) == 1000
    assert all(len(t) == ID_LENGTH and ids.verify(t) for t in minted)
    one = next(iter(minted))
    flipped = one[:10] + ("a" if one[10] != "a" else "b") + one[11:]
    assert not ids.verify(flipped)
    assert not TicketIds(b"j" * 32).verify(one)
    assert not ids.verify(one.upper() + "=")
    assert not ids.verify("")


def test_short_secrets_are_refused() -> None:
    with pytest.raises(ValueError):
        TicketIds(b"short")


# --- settings ------------------------------------------------------------------------------------
def test_settings_come_from_the_environment_over_a_toml_file(tmp_path: object) -> None:
    from pathlib import Path

    config = Path(str(tmp_path)) / "tg.toml"
    config.write_text('namespace = "fromtoml"\nmax_attempts = 5\n[worker_concurrency]\npayment = 3\n')
    settings = Settings.from_env(
        {"TICKETGATE_CONFIG": str(config), "MAX_ATTEMPTS": "4", "WORKER_CONCURRENCY_PENSION": "7"}
    )
    assert settings.namespace == "fromtoml"
    assert settings.max_attempts == 4  # environment wins over the file
    assert settings.worker_concurrency["payment"] == 3
    assert settings.worker_concurrency["pension"] == 7
    assert Settings.from_env({}).amqp_url == "amqp://guest:guest@127.0.0.1:5672/"


@pytest.mark.parametrize(
    "env",
    [{"MAX_ATTEMPTS": "0"}, {"MAX_ATTEMPTS": "three"}, {"NAMESPACE": "a b"}, {"RETRY_BASE_SECONDS": "0"}],
)
def test_bad_settings_are_refused_at_start(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        Settings.from_env(env)


# --- retry timing --------------------------------------------------------------------------------
def test_retry_delays_grow_exponentially_with_jitter_steps() -> None:
    settings = Settings(max_attempts=4, retry_base_seconds=1.0, retry_jitter_steps=4)
    topology = Topology.from_settings(settings)
    assert topology.delay_ttls_ms == (
        (1000, 1250, 1500, 1750),
        (2000, 2250, 2500, 2750),
        (4000, 4250, 4500, 4750),
    )
    policy = RetryPolicy(topology, max_attempts=4, base_seconds=1.0, max_seconds=60.0)
    first = {policy.delay_queue("payment", 1) for _ in range(200)}
    assert first == {f"tg.payment.retry.{ms}ms" for ms in (1000, 1250, 1500, 1750)}
    assert policy.delay_queue("payment", 3) in {f"tg.payment.retry.{ms}ms" for ms in (4000, 4250, 4500, 4750)}
    assert policy.delay_queue("payment", 4) is None  # budget spent


def test_retry_delays_are_capped() -> None:
    topology = Topology.from_settings(Settings(max_attempts=10, retry_base_seconds=1, retry_max_seconds=5))
    assert max(max(level) for level in topology.delay_ttls_ms) == 5000


def test_one_queue_shard_is_the_unsharded_topology_and_more_are_dealt_in_turn() -> None:
    one = Topology.from_settings(Settings(namespace="tg"))
    assert one.work_queues("payment") == ["tg.payment"]
    assert {one.work_route("payment", turn) for turn in range(7)} == {"payment"}
    three = Topology.from_settings(Settings(namespace="tg", queue_shards=3))
    assert three.work_queues("payment") == ["tg.payment", "tg.payment.q1", "tg.payment.q2"]
    assert [three.work_route("payment", turn) for turn in range(4)] == [
        "payment",
        "payment.q1",
        "payment.q2",
        "payment",
    ]
    assert set(three.work_queues("payment")) <= set(three.all_queue_names())
    with pytest.raises(ConfigError):
        Settings(queue_shards=0).validate()


# --- messages ------------------------------------------------------------------------------------
def test_messages_round_trip_and_reject_garbage_and_other_versions() -> None:
    msg = TicketMessage(ticket_id="t", kind="payment", citizen_id="c", payload={"a": 1}, created_at=1.5)
    assert decode(encode(msg)) == msg
    with pytest.raises(MessageRejected):
        decode(b"not json")
    with pytest.raises(MessageRejected):
        decode(encode(msg).replace(b'"v":1', b'"v":2'))


# --- ETA -----------------------------------------------------------------------------------------
def test_eta_median_and_p90_grow_with_position_and_shrink_with_rate() -> None:
    eta = EtaEstimator(None, assumed_rate=10)  # type: ignore[arg-type]
    near, far = eta.from_position(0, 10), eta.from_position(1000, 10)
    assert near.eta_seconds < far.eta_seconds
    assert far.eta_p90_seconds > far.eta_seconds
    assert eta.from_position(1000, 100).eta_seconds < far.eta_seconds
    assert 1 <= near.poll_after_seconds <= far.poll_after_seconds <= 60


class _Finishes:
    """The ticket store's face to the ETA: its finish counters, counting the reads."""

    def __init__(self, finished_per_bucket: int = 5) -> None:
        self.reads = 0
        self.per_bucket = finished_per_bucket

    async def finishes(self, kind: str, buckets: Sequence[int]) -> tuple[int, int, int]:
        self.reads += 1
        await asyncio.sleep(0.01)  # the round trip, during which more requests arrive
        return 50, 40, self.per_bucket * len(buckets)


async def test_concurrent_etas_share_one_read_of_the_counters() -> None:
    store = _Finishes()
    eta = EtaEstimator(store, assumed_rate=10)
    etas = await asyncio.gather(*(eta.estimate("payment", 100 + i) for i in range(50)))
    assert store.reads == 1
    assert [e.position for e in etas] == [59 + i for i in range(50)]


class _Plan:
    """The plan reader's face to the ETA: one kind's plan and the throttle document."""

    def __init__(self, measured: bool, calibrated: bool = True) -> None:
        self.throttle = Throttle.defaults(Settings())
        self.measured = measured
        self.calibrated = calibrated

    def kind(self, kind: str) -> KindPlan:
        return KindPlan(
            rate=10.0,
            capacity=10.0,
            capacity_measured=self.measured,
            eta_calibrated=self.calibrated,
            backlog=0,
            demand=0.0,
            service_seconds=1.0,
            eta_scale=1.0,
            retry_after_seconds=1.0,
            suggested_at=None,
        )


@pytest.mark.parametrize("planned", [True, False])
async def test_promises_on_the_assumed_rate_allow_for_a_shared_core_and_are_not_calibrated_on(
    planned: bool,
) -> None:
    # Given a capacity that is still the assumption (in the plan, or without a plan: under 10 finishes
    # in the last minute), and then a measured one
    if planned:
        plan = _Plan(measured=False)
        eta = EtaEstimator(_Finishes(), assumed_rate=10, plan=plan)  # type: ignore[arg-type]
        cold = await eta.estimate("payment", 100)
        plan.measured = True
        warm = await eta.estimate("payment", 100)
    else:
        # 600 finished in the last minute measure the same 10 a second the assumption says
        unmeasured = EtaEstimator(_Finishes(0), assumed_rate=10)
        measured = EtaEstimator(_Finishes(50), assumed_rate=10)
        cold = await unmeasured.estimate("payment", 100)
        warm = await measured.estimate("payment", 100)
    # Then the median is the same best guess, the p90 allows each of the three kinds a third of the rate,
    # and the assumption's promise carries no model for its lateness to be measured against
    assert cold.position == warm.position == 59
    assert cold.eta_seconds == warm.eta_seconds
    assert cold.eta_p90_seconds - 2 >= 2.9 * (warm.eta_p90_seconds - 2), (cold, warm)
    assert cold.model_p90_seconds is None and warm.model_p90_seconds is not None


async def test_promises_on_measured_capacity_are_scored_but_stay_wide_until_first_calibrated() -> None:
    plan = _Plan(measured=False, calibrated=False)
    eta = EtaEstimator(_Finishes(), assumed_rate=10, plan=plan)  # type: ignore[arg-type]
    cold = await eta.estimate("payment", 100)
    # When the capacity is measured, but no promise made on it has finished yet
    plan.measured = True
    uncalibrated = await eta.estimate("payment", 100)
    plan.calibrated = True
    calibrated = await eta.estimate("payment", 100)
    # Then its promise is as wide as on the assumption, yet it carries the model's p90 to be scored on
    assert uncalibrated.eta_p90_seconds == cold.eta_p90_seconds > calibrated.eta_p90_seconds
    assert uncalibrated.model_p90_seconds == calibrated.model_p90_seconds is not None
    assert uncalibrated.eta_seconds == calibrated.eta_seconds


def test_lateness_percentile_is_read_off_the_grid_from_above() -> None:
    # 80 tickets on time (ratio in (0.9, 1]), 20 late by 2.5x (bucket 10 holds (2.36, 2.59]).
    counts = {0: 80, 10: 20}
    assert lateness.percentile(counts, 0.8) == 1.0
    assert lateness.percentile(counts, 0.92) == pytest.approx(1.1**10)
    assert lateness.percentile({}, 0.92) is None
    assert lateness.percentile({-5: 0}, 0.92) is None


# --- logs ----------------------------------------------------------------------------------------
def test_logs_are_json_with_resident_ids_masked_and_secrets_redacted() -> None:
    out = io.StringIO()
    logs.configure("info", stream=out)
    try:
        log = structlog.get_logger("test")
        log.info("submitted by 11010519491231002X", citizen="440524188001010014", token="s3cret")
        line = json.loads(out.getvalue().strip().splitlines()[-1])
    finally:
        structlog.reset_defaults()
    assert "11010519491231002X" not in out.getvalue() and "440524188001010014" not in out.getvalue()
    assert line["citizen"] == "440524**********14"
    assert "110105**********2X" in line["event"]
    assert line["token"] == "[redacted]" and "s3cret" not in out.getvalue()


def test_an_outage_is_logged_once_a_second_with_the_count_of_refusals() -> None:
    from structlog.testing import capture_logs

    from queue_config.web.http import _OutageLog

    outage = _OutageLog(interval=3600)
    with capture_logs() as captured:
        for _ in range(1000):
            outage.refused("redis unavailable", "/v1/submissions")
        outage._next_at = 0.0  # the interval has passed
        outage.refused("redis unavailable", "/v1/submissions")
    lines = [c for c in captured if c["event"] == "backend_unavailable"]
    assert [line["also_refused"] for line in lines] == [0, 999]


def test_wrk_report_is_read_with_its_units_and_refusals() -> None:
    from bench.harness.wrk import parse

    text = """Running 20s test @ http://127.0.0.1:18541/v1/submissions
  2 threads and 1000 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.45s   512.30ms   3.10s    70.00%
  Latency Distribution
     50%    1.41s
     75%    1.80s
     90%    2.20s
     99%  820.50ms
  13620 requests in 20.01s, 6.10MB read
  Socket errors: connect 0, read 3, write 0, timeout 7
  Non-2xx or 3xx responses: 40
Requests/sec:    680.66
"""
    result = parse(text)
    assert result.requests == 13_620 and result.seconds == 20.01
    assert result.refused == 40 + 7  # non-2xx and timeouts; read errors come with an answer
    assert result.p50_ms == 1410.0 and result.p99_ms == 820.5


def test_every_option_of_the_benchmark_says_what_it_does() -> None:
    from bench.__main__ import _parser

    silent = [a.dest for a in _parser()._actions if not a.help]
    assert silent == [], silent


def test_the_archive_may_not_take_a_ticket_while_its_idempotency_key_can_still_find_it() -> None:
    with pytest.raises(ConfigError, match="ARCHIVE_AFTER_SECONDS"):
        Settings.from_mapping({"archive_after_seconds": 60, "idempotency_ttl_seconds": 3600})
    with pytest.raises(ConfigError, match="ARCHIVE_RETENTION_SECONDS"):
        Settings.from_mapping({"archive_after_seconds": 7200, "archive_retention_seconds": 3600})
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        Settings.from_mapping({"database_url": "mysql://db/tickets"})
    # Without an archive nothing moves, so nothing to check
    assert Settings.from_mapping({"archive_after_seconds": 60, "database_url": ""}).database_url == ""
