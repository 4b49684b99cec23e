"""Valid submissions for the load generators, distinct by seed and spread evenly over the kinds, each
with its kind's example payload (``queue_config.kinds``), from the pool of citizens whose tokens the
generators hold (``bench.citizen_tokens``)."""

from __future__ import annotations

from typing import Any

from bench.citizen_tokens import citizen
from queue_config.kinds import KINDS, REGISTRY


def submission(seed: int) -> dict[str, Any]:
    kind = KINDS[seed % len(KINDS)]
    return {"kind": kind, "citizen_id": citizen(seed), "payload": REGISTRY[kind].example(seed)}
