"""How workers reach the core systems: a Protocol, with the HTTP client of the simulator's contract as
the one implementation; a real adapter for a portal's systems replaces it without touching handlers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import aiohttp
import orjson


class CoreError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


class TransientCoreError(CoreError):
    """Timeouts, connection errors, 5xx and 429: worth another attempt later."""


class PermanentCoreError(CoreError):
    """Any other 4xx: the core system refused the request itself; retrying cannot help."""


class CoreSystem(Protocol):
    async def execute(self, kind: str, idempotency_key: str, body: Mapping[str, Any]) -> dict[str, Any]: ...


class HttpCoreClient:
    def __init__(self, base_url: str, *, timeout_seconds: float, max_connections: int) -> None:
        self._base = base_url.rstrip("/")
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=timeout_seconds),
            connector=aiohttp.TCPConnector(limit=max_connections),
            json_serialize=lambda obj: orjson.dumps(obj).decode(),
        )

    async def execute(self, kind: str, idempotency_key: str, body: Mapping[str, Any]) -> dict[str, Any]:
        try:
            async with self._session.post(
                f"{self._base}/v1/{kind}",
                data=orjson.dumps(body),
                headers={"Idempotency-Key": idempotency_key, "Content-Type": "application/json"},
            ) as response:
                raw = await response.read()
                status = response.status
        except TimeoutError as exc:
            raise TransientCoreError("timeout", "core system did not answer in time") from exc
        except aiohttp.ClientError as exc:
            raise TransientCoreError("unreachable", f"core system unreachable: {exc}") from exc
        try:
            doc = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            doc = {}
        message = str(doc.get("message", "")) if isinstance(doc, dict) else ""
        if status >= 500 or status == 429:
            raise TransientCoreError(f"core_{status}", message or "core system unavailable")
        if status >= 400:
            raise PermanentCoreError(_refusal(doc, status), message or "core system rejected the request")
        result = doc.get("result") if isinstance(doc, dict) else None
        return result if isinstance(result, dict) else {}

    async def close(self) -> None:
        await self._session.close()


# What a core system says when it names no particular reason: the ticket's error is then ``core_<status>``.
_UNSPECIFIC = frozenset({"", "rejected", "bad_request", "not_found", "unavailable"})


def _refusal(doc: object, status: int) -> str:
    """The code of a permanent refusal: the core's own reason (``duplicate_invoice``) when it gives one."""
    code = doc.get("error") if isinstance(doc, dict) else None
    return (
        code
        if isinstance(code, str) and code not in _UNSPECIFIC and code.isidentifier()
        else f"core_{status}"
    )
