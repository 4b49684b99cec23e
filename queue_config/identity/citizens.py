"""Who a request speaks for: the resident ID of a verified bearer token, or, where an upstream gateway
verifies citizens (``AUTH_REQUIRED=false``), the one its header names on a connection from a trusted
proxy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from queue_config.errors import ConfigError
from queue_config.identity.jwks import KeySet, KeysUnavailable
from queue_config.identity.tokens import InvalidToken, TokenVerifier
from queue_config.settings import Settings
from queue_config.stores.enterprises import bearer
from queue_config.web.networks import Network, is_within, parse_networks

__all__ = ["CitizenIdentity", "InvalidToken", "KeysUnavailable"]


@dataclass(frozen=True, slots=True)
class CitizenIdentity:
    verifier: TokenVerifier | None  # None: tokens are not checked here (AUTH_REQUIRED=false)
    keys: KeySet | None
    subject_header: str
    trusted_proxies: tuple[Network, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> CitizenIdentity:
        try:
            trusted = parse_networks(settings.trusted_proxies)
        except ValueError as exc:
            raise ConfigError(f"TRUSTED_PROXIES: {exc}") from exc
        if not settings.auth_required:
            return cls(None, None, settings.auth_subject_header, trusted)
        keys = KeySet(settings.jwks_url)
        verifier = TokenVerifier(
            keys,
            issuer=settings.auth_issuer,
            audience=settings.auth_audience,
            leeway=settings.auth_clock_skew_seconds,
        )
        return cls(verifier, keys, settings.auth_subject_header, trusted)

    @property
    def required(self) -> bool:
        return self.verifier is not None

    async def start(self) -> None:
        if self.keys is not None:
            await self.keys.start()

    async def stop(self) -> None:
        if self.keys is not None:
            await self.keys.stop()

    async def subject(self, headers: Mapping[str, str], peer: str | None) -> str | None:
        """The verified resident ID, or None when the request presents no identity. Raises InvalidToken
        for a token that fails verification, KeysUnavailable when the provider's keys cannot be had."""
        if self.verifier is None:
            named = headers.get(self.subject_header)
            if named and is_within(peer, self.trusted_proxies):
                return named.strip().upper()
            return None
        token = bearer(headers)
        if token is None:
            if headers.get("Authorization"):
                raise InvalidToken("the Authorization header is not a bearer token")
            return None
        return (await self.verifier.verify(token)).subject
