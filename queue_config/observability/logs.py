"""structlog JSON logging, with resident IDs masked wherever they would appear."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import orjson
import structlog

_RESIDENT_ID = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{10}([0-9Xx]{2})(?![0-9A-Za-z])")
_SECRET_FIELDS = frozenset({"authorization", "api_key", "token", "secret", "ticket_secret", "password"})


def _mask_text(text: str) -> str:
    return _RESIDENT_ID.sub(lambda m: m.group(1) + "*" * 10 + m.group(2), text)


def _redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    # Last line of defence: anything that slipped into a log line, whatever its field name.
    for key, value in list(event.items()):
        if key.lower() in _SECRET_FIELDS:
            event[key] = "[redacted]"
        elif isinstance(value, str):
            event[key] = _mask_text(value)
    return event


def _dumps(obj: Any, default: Any = None) -> str:
    return orjson.dumps(obj, default=default or str).decode()


def configure(level: str = "info", *, stream: Any = None) -> None:
    logging.basicConfig(format="%(message)s", stream=stream or sys.stderr, level=level.upper())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            _redact,
            structlog.processors.JSONRenderer(serializer=_dumps),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=True,
    )
