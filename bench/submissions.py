"""Valid submissions for the load generators, distinct by seed (a resident ID each) and spread evenly
over the kinds, each with its kind's example payload (``queue_config.kinds``)."""

from __future__ import annotations

from typing import Any

from queue_config.kinds import KINDS, REGISTRY
from queue_config.resident_id import make as make_resident_id


def submission(seed: int) -> dict[str, Any]:
    kind = KINDS[seed % len(KINDS)]
    return {"kind": kind, "citizen_id": make_resident_id(seed), "payload": REGISTRY[kind].example(seed)}
