"""The identity provider's signing keys (its JWKS), fetched, cached and refreshed.

The keys are fetched at start and every ``refresh_seconds``; a token naming a key we do not hold makes
one refresh at once (the provider has rotated its keys), but such refreshes come at most one every
``miss_refresh_seconds``, so a flood of made-up ``kid`` values costs the provider one request every few
seconds, not one per token. (A provider publishes a new key before it signs with it, as OpenID Connect
providers do, and the periodic refresh finds it first.) PyJWT's own
``PyJWKClient`` would do this with a blocking ``urllib`` call on the event loop; only the fetching is ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import aiohttp
import structlog
from jwt import PyJWK, PyJWKSet
from jwt.exceptions import PyJWKError, PyJWKSetError

from queue_config.errors import TicketgateError

log = structlog.get_logger("identity")

# The algorithms a citizen's token may be signed with; anything else (``none``, HS256 with the public key
# as secret) is refused before a key is looked at.
ALGORITHMS = ("RS256", "ES256")


class KeysUnavailable(TicketgateError):
    """The provider's keys cannot be had: our fault or the provider's, not the client's (503)."""


class KeySet:
    def __init__(
        self,
        url: str,
        *,
        refresh_seconds: float = 600.0,
        miss_refresh_seconds: float = 5.0,
        timeout: float = 5.0,
    ) -> None:
        self._url = url
        self._refresh_seconds = refresh_seconds
        self._miss_refresh_seconds = miss_refresh_seconds
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._keys: dict[str, PyJWK] = {}
        self._missed_at = -1e9  # monotonic time of the last fetch a token's unknown kid asked for
        self._loaded = False
        self._inflight: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._refresher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=self._timeout)
        # Not awaited: a front door whose provider is down still starts and serves what needs no token.
        self._refresher = asyncio.create_task(self._refresh_forever())

    async def stop(self) -> None:
        for task in (self._refresher, self._inflight):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self._session is not None:
            await self._session.close()

    async def key(self, kid: str) -> PyJWK | None:
        """The key called ``kid``, or None when the provider has no such key (after a refresh, if one
        is due). Raises KeysUnavailable when no key set could ever be fetched."""
        found = self._keys.get(kid)
        if found is not None:
            return found
        now = time.monotonic()
        # While no key set has ever loaded, the refresher tries every second: a request then waits
        # for a fetch under way, or is answered at once, not made to wait for a fetch of its own.
        if not self._loaded:
            if self._inflight is not None and not self._inflight.done():
                await asyncio.shield(self._inflight)
        elif now - self._missed_at >= self._miss_refresh_seconds:
            self._missed_at = now
            await self._refresh_once()
        if not self._loaded:
            raise KeysUnavailable(f"the identity provider's keys could not be fetched from {self._url}")
        return self._keys.get(kid)

    async def _refresh_forever(self) -> None:
        while True:
            await self._refresh_once()
            await asyncio.sleep(self._refresh_seconds if self._loaded else 1.0)

    async def _refresh_once(self) -> None:
        """One fetch, shared by every caller that wants one meanwhile."""
        if self._inflight is None or self._inflight.done():
            self._inflight = asyncio.create_task(self._fetch())
        await asyncio.shield(self._inflight)

    async def _fetch(self) -> None:
        assert self._session is not None, "KeySet.start() first"
        try:
            async with self._session.get(self._url) as response:
                response.raise_for_status()
                document = await response.json(content_type=None)
            keys = PyJWKSet.from_dict(document).keys
        except (aiohttp.ClientError, TimeoutError, ValueError, PyJWKError, PyJWKSetError) as exc:
            log.warning("jwks_fetch_failed", url=self._url, error=str(exc) or type(exc).__name__)
            return
        self._keys = {k.key_id: k for k in keys if k.key_id and k.algorithm_name in ALGORITHMS}
        self._loaded = True
        log.info("jwks_loaded", url=self._url, keys=sorted(self._keys))
