"""Valid submissions for the load generators, distinct by seed (a resident ID each) and spread evenly
over the three kinds."""

from __future__ import annotations

from typing import Any

from queue_config.resident_id import make as make_resident_id


def submission(seed: int) -> dict[str, Any]:
    kind = ("payment", "transfer", "pension")[seed % 3]
    if kind == "payment":
        payload: dict[str, Any] = {
            "scheme": "medical",
            "amount_cents": 100 + seed % 9000,
            "period": "2026-11",
        }
    elif kind == "transfer":
        payload = {"from_region": "110101", "to_region": f"{310101 + seed % 1000:06d}"}
    else:
        payload = {"action": "claim", "retirement_date": "2031-05-01"}
    return {"kind": kind, "citizen_id": make_resident_id(seed), "payload": payload}
