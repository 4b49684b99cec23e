"""Where batch callbacks may go: public ``https`` targets, unless an operator allows a network.

A callback carries a signed body to a URL the enterprise chose, so an unchecked URL lets anyone with an
enterprise key make our workers POST into our own network (the loopback, the broker's management port,
a cloud metadata address). By default a callback URL must be ``https`` to a public address: checked at
the door when the batch names it (IP literals and obviously local names), and again when the worker
connects, after DNS, because a public name can resolve to a private address (or be rebound to one
between the two checks). ``CALLBACK_ALLOWED_NETWORKS`` (CIDRs) names networks that may be called anyway,
over plain ``http`` too: for tests and private deployments. Redirects are never followed (see
``workers.bulk.batch_callbacks``): the signed body would go to a target nobody checked.
"""

from __future__ import annotations

import ipaddress
import socket
import urllib.parse
from collections.abc import Iterable

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from queue_config.errors import ConfigError
from queue_config.settings import Settings
from queue_config.web.networks import Network, parse_networks

MAX_CALLBACK_URL = 2048
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain")


class CallbackPolicy:
    def __init__(self, allowed: Iterable[Network] = ()) -> None:
        self.allowed = tuple(allowed)

    @classmethod
    def from_settings(cls, settings: Settings) -> CallbackPolicy:
        try:
            return cls(parse_networks(settings.callback_allowed_networks))
        except ValueError as exc:
            raise ConfigError(f"CALLBACK_ALLOWED_NETWORKS: {exc}") from exc

    def address_allowed(self, host: str) -> bool:
        address = ipaddress.ip_address(host.split("%", 1)[0])
        if any(address in net for net in self.allowed):
            return True
        return address.is_global and not address.is_multicast

    def problem(self, url: object) -> str | None:
        """Why ``url`` may not be a callback target, or None."""
        if not isinstance(url, str) or len(url) > MAX_CALLBACK_URL:
            return f"must be an https URL of at most {MAX_CALLBACK_URL} characters"
        try:
            parsed = urllib.parse.urlsplit(url)
            host = parsed.hostname
            parsed.port  # noqa: B018  (raises on a malformed port)
        except ValueError:
            return "must be an absolute https URL"
        if parsed.scheme not in ("http", "https") or not host:
            return "must be an absolute https URL"
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        allowed_literal = literal is not None and any(literal in net for net in self.allowed)
        if parsed.scheme != "https" and not allowed_literal:
            return "must be an https URL"
        if literal is not None and not self.address_allowed(host):
            return "must point at a public address"
        name = host.lower().rstrip(".")
        if literal is None and (name == "localhost" or name.endswith(_LOCAL_SUFFIXES)):
            return "must point at a public address"
        return None


class PublicOnlyResolver(AbstractResolver):
    """DNS for callbacks that drops every address the policy refuses; none left is a failed lookup."""

    def __init__(self, policy: CallbackPolicy, inner: AbstractResolver | None = None) -> None:
        self._policy = policy
        self._inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        kept = [r for r in found if self._policy.address_allowed(r["host"])]
        if not kept:
            raise OSError(f"{host} resolves to no address a callback may reach")
        return kept

    async def close(self) -> None:
        await self._inner.close()
