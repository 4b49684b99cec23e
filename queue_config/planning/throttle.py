"""The throttle document: the operator's live knobs (SPEC ``GET``/``PUT /v1/admin/throttle``).

It is kept in the store (``queue_config.stores.redis.throttle``) so that every front door and the admission
controller read the same one; a process that finds none uses the defaults from its settings. The HTTP
API, its audit log and change notices are the operator API's business; this module only defines the
document.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

import msgspec

from queue_config.kinds import KINDS
from queue_config.settings import Settings


class Mode(StrEnum):
    AUTO = "auto"  # the admission controller sets each kind's rate
    MANUAL = "manual"  # the operator's rate for a kind, where given; the controller's elsewhere
    MAINTENANCE = "maintenance"  # workers stop; submissions are still accepted and wait, held


class Throttle(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    mode: Mode = Mode.AUTO
    # Admissions a second per kind in manual mode; None means the controller decides.
    rates: dict[str, float | None] = msgspec.field(default_factory=lambda: {k: None for k in KINDS})
    max_wait_seconds: float = 900.0
    per_client_per_minute: float = 500.0
    per_ip_per_minute: float = 6000.0
    enterprise_share: float = 0.3
    maintenance_until: str | None = None

    @classmethod
    def defaults(cls, settings: Settings) -> Throttle:
        return cls(
            max_wait_seconds=settings.max_wait_seconds,
            per_client_per_minute=settings.per_client_per_minute,
            per_ip_per_minute=settings.per_ip_per_minute,
            enterprise_share=settings.enterprise_share,
        )

    def manual_rate(self, kind: str) -> float | None:
        return self.rates.get(kind) if self.mode is Mode.MANUAL else None

    def maintenance_ends_at(self) -> float | None:
        """Unix time of the announced end of maintenance; None outside maintenance or when none is set."""
        if self.mode is not Mode.MAINTENANCE or not self.maintenance_until:
            return None
        try:
            return dt.datetime.fromisoformat(self.maintenance_until.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None


_decoder = msgspec.json.Decoder(Throttle)


def merged(current: Throttle, changes: Mapping[str, Any]) -> dict[str, Any]:
    """``current`` with ``changes`` laid over it, as plain data (SPEC: PUT merges the fields given); the
    kinds given in ``rates`` replace only those kinds. Validate the result before converting it."""
    doc: dict[str, Any] = msgspec.to_builtins(current)
    result = {**doc, **changes}
    if isinstance(changes.get("rates"), Mapping):
        result["rates"] = {**doc["rates"], **changes["rates"]}
    return result


def decode(raw: bytes | str) -> Throttle:
    return _decoder.decode(raw)
