"""The client's IP address, taking ``X-Forwarded-For`` only from proxies we trust.

Anyone can send the header, so it is read only when the connection comes from a trusted proxy, and then
from the right: the first address that is not itself a trusted proxy is the client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from aiohttp import web

from queue_config.web.networks import Network, is_within, parse_networks

__all__ = ["Network", "client_ip", "parse_networks", "request_ip"]

_REQUEST_IP = web.RequestKey("client_ip", str)


def request_ip(request: web.Request, trusted: tuple[Network, ...]) -> str:
    """``client_ip`` of a request, worked out once: the script defence and the admission gate both ask."""
    found = request.get(_REQUEST_IP)
    if found is None:
        found = request[_REQUEST_IP] = client_ip(
            request.remote, request.headers.get("X-Forwarded-For"), trusted
        )
    return found


def client_ip(peer: str | None, forwarded_for: str | None, trusted: Iterable[Network]) -> str:
    trusted = tuple(trusted)
    if peer is None:
        return "unknown"
    if not forwarded_for or not is_within(peer, trusted):
        return peer
    for hop in reversed([h.strip() for h in forwarded_for.split(",")]):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return peer  # a garbled header from a trusted proxy: fall back to the proxy itself
        if not is_within(hop, trusted):
            return hop
    return peer
