"""Fuzzing each server against its own published OpenAPI document (schemathesis, ``bench/fuzz.py``), with
and without operator and enterprise credentials: no 5xx and no answer the document does not describe
(the documents themselves: ``tests/unit/test_openapi.py``). Bounded to a few examples per operation
here; ``python -m bench.fuzz`` runs it long."""

from __future__ import annotations

import pytest

from bench.fuzz import fuzz


@pytest.mark.timeout(900)
async def test_fuzzing_finds_no_server_error_and_no_undocumented_answer() -> None:
    runs = await fuzz(max_examples=10)
    assert {(r.server, r.credentials) for r in runs} >= {("front door", "citizen"), ("status API", "citizen")}
    assert len(runs) == 7
    for run in runs:
        assert run.cases > 0, run.output[-3000:]
        assert run.ok, f"{run.server} with {run.credentials} credentials:\n{run.output[-6000:]}"
