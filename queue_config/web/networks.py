"""IP networks named in settings (``TRUSTED_PROXIES``, ``CALLBACK_ALLOWED_NETWORKS``)."""

from __future__ import annotations

import functools
import ipaddress

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(spec: str) -> tuple[Network, ...]:
    """``"10.0.0.0/8, 127.0.0.1"`` → networks; raises ValueError on a malformed entry."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in spec.split(",") if part.strip())


@functools.lru_cache(maxsize=4096)
def is_within(address: str | None, networks: tuple[Network, ...]) -> bool:
    """Whether ``address`` (an IP address as text) lies in one of ``networks``; False for anything else.
    Remembered: every request asks it of its proxy's address, and parsing one took 3 µs."""
    if address is None:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)
