"""How late tickets finish against the ETA model: the measure the controller calibrates promises by.

A promised ticket's lateness is the time from its promise to its finish over the model's p90 for it
(before calibration). Finishing tickets count it in geometric buckets per kind and five-second slot
(the ticket store's scripts); the controller reads the last 30 s of them and sets the calibration
factor to a high percentile of lateness, so that promises made with it would have held that often.
"""

from __future__ import annotations

from collections.abc import Mapping

# Bucket i holds ratios in (STEP^(i-1), STEP^i], so a percentile read off the grid is at most 10 % above
# the true one; buckets run from -LIMIT (ratios up to 0.02) to LIMIT (45 and beyond).
STEP = 1.1
LIMIT = 40


def percentile(counts: Mapping[int, int], quantile: float) -> float | None:
    """The ``quantile`` of lateness from its bucket counts (the bucket's upper bound); None if empty."""
    total = sum(counts.values())
    seen = 0
    for bucket in sorted(counts):
        seen += counts[bucket]
        if seen >= quantile * total > 0:
            return float(STEP**bucket)
    return None
