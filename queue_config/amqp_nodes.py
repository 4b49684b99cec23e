"""Several RabbitMQ nodes of one cluster behind one robust connection (SPEC "Additions": ``AMQP_URL`` may
list nodes separated by commas).

aio-pika's robust connection reconnects to the one URL it was given, so a process whose node died would
wait for that node to return. ``FailoverConnection`` moves to the next node at every connection attempt:
after a node's death the next attempt (a second later, ``RECONNECT_INTERVAL_SECONDS``) reaches a live
one, and aio-pika restores the channels, exchanges and consumers there. Each process starts at a random
node, so that the cluster's connections are spread over its nodes.

Hand-written because aio-pika has no list of hosts; the hook is the one place aio-pika clears the
transport: at the start of each connection attempt (``RobustConnection.__connect_transport``).
"""

from __future__ import annotations

import random
from typing import Any

from aio_pika import RobustConnection
from yarl import URL


def node_urls(amqp_url: str) -> list[str]:
    """The node URLs of ``AMQP_URL``, in the order given."""
    return [part.strip() for part in amqp_url.split(",") if part.strip()]


class FailoverConnection(RobustConnection):
    # Set per process by ``with_nodes``; a class attribute because aio-pika builds the connection itself
    # from ``connect_robust(connection_class=...)`` and passes every other argument on to the wire.
    nodes: tuple[URL, ...] = ()

    @classmethod
    def with_nodes(cls, urls: list[str]) -> type[FailoverConnection]:
        return type("FailoverConnection", (cls,), {"nodes": tuple(URL(u) for u in urls)})

    def __init__(self, url: URL, loop: Any = None, **kwargs: Any) -> None:
        self._turn = random.randrange(len(self.nodes)) if self.nodes else 0
        super().__init__(url, loop, **kwargs)

    @property
    def transport(self) -> Any:
        return self.__dict__.get("_transport")

    @transport.setter
    def transport(self, value: Any) -> None:
        if value is None and self.nodes and "_transport" in self.__dict__:
            # A new connection attempt begins: to the next node.
            self._turn = (self._turn + 1) % len(self.nodes)
            self.url = self.nodes[self._turn]
        self.__dict__["_transport"] = value

    @property
    def node(self) -> str:
        """host:port of the node this connection uses (or tries next)."""
        return f"{self.url.host}:{self.url.port}"
