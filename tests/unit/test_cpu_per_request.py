"""The CPU-per-submission bench's own arithmetic: CPU by role over the submissions accepted, and the
Redis and RabbitMQ servers found by the ports their URLs name."""

from __future__ import annotations

import pytest

from bench import cpu_per_request, server_usage
from bench.cpu_per_request import Measured, cli, report
from queue_config.settings import Settings


def test_the_report_gives_each_roles_share_and_the_whole() -> None:
    args = cli(["--targets", "ticketgate,asyncio", "--rate", "1100", "--seconds", "20"])
    runs = [
        Measured("ticketgate", 22_000, 20.0, 8.8, 45.5, {"front door": 22.0, "RabbitMQ": 8.2, "Redis": 3.3}),
        Measured("plain asyncio", 20_000, 20.0, 3.1, 10.5, {"portal": 14.0, "RabbitMQ": 7.0, "Redis": 0.0}),
    ]
    text = report(args, runs)
    assert "| ticketgate | 22,000 | 8.8 | 45.5 | front door | 22.00 | 1,000 |" in text
    assert "| | | | | RabbitMQ | 8.20 | 373 |" in text
    assert "| | | | | **all** | 33.50 (1.68 cores) | **1,523** |" in text
    assert "| plain asyncio | 20,000 | 3.1 | 10.5 | portal | 14.00 | 700 |" in text
    assert "**1,050**" in text
    assert "| Redis | 0.00 |" not in text  # a role that spent nothing is left out


def test_only_known_targets_are_taken() -> None:
    assert cli(["--targets", "celery"]).targets == ["celery"]
    with pytest.raises(SystemExit):
        cli(["--targets", "ticketgate,nginx"])


def test_the_shared_servers_are_found_by_their_urls_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[set[int]] = []

    def listening(ports: set[int]) -> set[int]:
        asked.append(ports)
        return {len(asked)}

    monkeypatch.setattr(server_usage, "listening_pids", listening)
    settings = Settings(redis_url="redis://127.0.0.1:6380/0", amqp_url="amqp://guest:guest@127.0.0.1:5673/")
    assert cpu_per_request.shared_servers(settings) == {"Redis": {1}, "RabbitMQ": {2}}
    assert asked == [{6380}, {5673}]
