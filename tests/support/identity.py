"""The development identity provider for tests: served in-process, and a book of tokens minted from it."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt

from bench.idp.app import build_app as build_idp


def idp_app(port: int) -> Any:
    return build_idp(f"http://127.0.0.1:{port}")


class TokenBook:
    """Tokens from the provider's ``POST /v1/tokens``, one per resident ID, kept for the session (they
    live an hour: longer than any test)."""

    def __init__(self, http: aiohttp.ClientSession, idp_url: str) -> None:
        self.http = http
        self.idp_url = idp_url
        self._tokens: dict[str, str] = {}

    async def mint(self, sub: str, **claims: Any) -> str:
        """A new token for ``sub`` (``ttl_seconds``, ``aud``, ``alg`` as the provider takes them).

        Asked again once when the provider resets a kept-alive connection: the client may reuse one the
        server is closing as idle (seen in CI, a test failing on a token it never got to use)."""
        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(2), retry=retry_if_exception_type(aiohttp.ClientOSError), reraise=True
        ):
            with attempt:
                url = f"{self.idp_url}/v1/tokens"
                async with self.http.post(url, json={"sub": sub, **claims}) as response:
                    assert response.status == 200, await response.text()
                    return str((await response.json())["access_token"])
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def token(self, sub: str) -> str:
        if sub not in self._tokens:
            self._tokens[sub] = await self.mint(sub, ttl_seconds=3600)
        return self._tokens[sub]

    async def header(self, sub: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.token(sub)}"}

    async def prefetch(self, subs: list[str]) -> None:
        """Mint ahead what a timed loop will need, so minting takes none of its time."""
        missing = sorted(set(subs) - set(self._tokens))
        tokens = await asyncio.gather(*(self.mint(sub, ttl_seconds=3600) for sub in missing))
        self._tokens.update(zip(missing, tokens, strict=True))

    def ready_header(self, sub: str) -> dict[str, str]:
        """The header for a token minted before (``prefetch``)."""
        return {"Authorization": f"Bearer {self._tokens[sub]}"}
