"""Failover under steady load (``bench.failover``, one kill of each kind; the report runs five): SIGKILL
the RabbitMQ node that leads the payment queue, then a Redis primary. The doors accept again within 8 s
of each kill, every ticket a 202 gave out ends done or failed, none is lost, stuck or applied twice, and
no client gets a 5xx but 503."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.failover import LIMIT_SECONDS, run_failover
from bench.local_cluster import LocalCluster

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(900)]


async def test_a_killed_queue_leader_and_a_killed_redis_primary_lose_nothing(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    (tmp_path / "logs").mkdir()
    outcome = await run_failover(targets=["rabbit", "redis"], kills=1, rate=20, logs=tmp_path / "logs")

    assert [k.target for k in outcome.kills] == ["rabbit", "redis"]
    for kill in outcome.kills:
        assert kill.failover_seconds is not None and kill.failover_seconds <= LIMIT_SECONDS, kill
    result = outcome.result
    assert result.issued >= 400, result
    assert not result.lost and not result.stuck, result
    assert not result.applied_twice and not result.done_without_effect and not result.failed_with_effect
    assert set(result.by_status) <= {"done", "failed"}, result.by_status
    assert not outcome.errors, outcome.errors[:5]
    # The kills were felt: some answers in the run were 503s (honest refusals), none a 500
    assert {a.status for a in outcome.answers} <= {200, 202, 503, None}
