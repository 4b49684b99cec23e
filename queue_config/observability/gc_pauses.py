"""How long Python's cyclic garbage collector stops the process (``ticketgate_gc_pause_seconds``). A
collection of the oldest generation walks every tracked object, so a process that keeps many (caches,
models) can stall all its requests for tens of milliseconds: this tells that apart from other loop lag."""

from __future__ import annotations

import gc
import time
from typing import Any

from queue_config.observability.metrics import GC_PAUSE, labelled

_began: list[float] = []


def _on_gc(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _began.append(time.perf_counter())
    elif _began:
        labelled(GC_PAUSE, str(info.get("generation", "?"))).observe(time.perf_counter() - _began.pop())


def watch() -> None:
    """Start timing collections in this process (once; later calls do nothing)."""
    if _on_gc not in gc.callbacks:
        gc.callbacks.append(_on_gc)


def collect_young_less_often(threshold: int) -> None:
    """Collect the youngest generation after ``threshold`` net allocations instead of Python's 700 (0:
    leave it). A request allocates hundreds of container objects, nearly all freed by reference
    counting; at 700 a door at 650 submissions a second still ran a dozen collections a second, each
    moving the requests then in flight to an older generation that a later, longer pause walks again.
    A/B on two doors at 1,300/s, 15 s, A and B in turn, three rounds (``bench.door_ab``,
    ``bench/reports/2026-12-06-gc-young-ab``): with 700, 385-448 pauses adding up to 1.1-1.5 s and a p99
    of 438-534 ms; with 20,000, 4 pauses (50 ms) and a p99 of 263-303 ms, at the same CPU and resident
    memory (180 MB); after 60 s at 1,000/s, 180 MB against 181 MB too: the cyclic garbage that waits
    longer is bounded by the threshold."""
    if threshold > 0:
        gc.set_threshold(threshold, *gc.get_threshold()[1:])


def freeze_startup_heap() -> None:
    """Move every object alive now (modules, settings, compiled scripts, models) out of the collector's
    reach with ``gc.freeze``: they live as long as the process, and each collection of the oldest
    generation walked them all. In the latency sweep of 2026-12-05 the collector's p99 pause was 50-100 ms
    at 25-70 % load (some 200-360 collections in each 10 s step); frozen, 20 ms up to half load."""
    gc.collect()
    gc.freeze()
