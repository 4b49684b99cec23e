"""Settings, built once at start-up from the environment (optionally over a TOML file) and passed down.

Nothing reads ``os.environ`` on import: ``Settings.from_env()`` is called by each entry point.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from queue_config.errors import ConfigError
from queue_config.kinds import KINDS


@dataclass(frozen=True, slots=True)
class Settings:
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    redis_url: str = "redis://127.0.0.1:6379/0"
    # The archive of finished tickets (PostgreSQL); "" turns it off: done tickets then stay in Redis for
    # ``ticket_ttl_seconds``.
    database_url: str = "postgresql://postgres@127.0.0.1:5432/ticketgate"
    # A done ticket moves from Redis to the archive this long after it finished, and the archive keeps
    # it this long after it finished (then deletes it). Failed tickets stay in Redis, where an operator
    # can replay them, for ``ticket_ttl_seconds``.
    archive_after_seconds: int = 24 * 3600
    archive_retention_seconds: int = 30 * 24 * 3600
    archive_interval_seconds: float = 30.0
    host: str = "127.0.0.1"
    frontdoor_port: int = 8080
    status_port: int = 8081
    core_port: int = 8090
    core_url: str = "http://127.0.0.1:8090"
    public_status_url: str = "http://127.0.0.1:8081"
    # Where clients reach the front doors (the OpenAPI document names it); by default this host and port.
    public_frontdoor_url: str | None = None
    ticket_secret: str | None = None
    operator_token: str | None = None
    # Prefix of every queue, exchange and Redis key: lets several deployments (or test runs) share
    # one broker and one Redis without seeing each other's messages.
    namespace: str = "tg"
    max_attempts: int = 3
    retry_base_seconds: float = 1.0
    retry_max_seconds: float = 60.0
    retry_jitter_steps: int = 4
    # Beyond its delay, how long a retrying ticket's message may take to come back to a worker before
    # the retry sweeper republishes it (workers/retries/retry_sweeper.py).
    retry_overdue_seconds: float = 30.0
    # Redeliveries (crashed consumers, requeues) after which the broker dead-letters a message: a poison
    # message that kills its worker every time cannot loop forever.
    delivery_limit: int = 20
    max_body_bytes: int = 64 * 1024
    ticket_ttl_seconds: int = 30 * 24 * 3600
    idempotency_ttl_seconds: int = 24 * 3600
    # How long a reserved-but-unconfirmed ticket survives if its front door dies mid-accept.
    pending_ttl_seconds: int = 3600
    publish_timeout_seconds: float = 5.0
    publisher_channels: int = 4
    # Work queues per kind. One quorum queue lives on one leader node and is one Erlang process, so a
    # kind whose traffic one queue cannot carry is spread over several; every process must use the same
    # number (raise it freely; to lower it, drain the queues that go away first).
    queue_shards: int = 1
    redis_timeout_seconds: float = 2.0
    # Replicas that must hold a ticket's reservation and commit before its 202 (Redis WAIT): "auto" is 1
    # on Redis Cluster and 0 on one Redis (a lone Redis has no replica to wait for).
    redis_wait_replicas: str = "auto"
    # How long a 202 waits for them; past it the 202 goes out anyway (the message in RabbitMQ is the
    # durable copy) and ticketgate_redis_unreplicated_commits counts it.
    redis_wait_timeout_ms: int = 50
    # Connections per process; requests beyond it wait (up to the Redis timeout) for a free one.
    redis_max_connections: int = 128
    # A front door sends its script batches on a connection of its own, not through redis-py's pipeline
    # (``queue_config.stores.redis.script_pipe``; on one Redis over TCP only; false: redis-py throughout).
    redis_script_pipe: bool = True
    worker_concurrency: Mapping[str, int] = field(default_factory=lambda: {kind: 32 for kind in KINDS})
    core_timeout_seconds: float = 35.0
    shutdown_grace_seconds: float = 20.0
    # Allocations (less deallocations) between two collections of the garbage collector's youngest
    # generation; 0 keeps Python's 700. See ``queue_config.observability.gc_pauses``.
    gc_young_threshold: int = 20_000
    # How the ticket store lays out its keys and records (``queue_config.stores.redis.record_fields``):
    # 2, or 1 during a rolling upgrade from a version before 2026-12-06 (every process reads both).
    store_format: int = 2
    # Per-client limits (SPEC): requests a minute per resident ID and per client IP; 0 disables one.
    per_client_per_minute: float = 500.0
    per_ip_per_minute: float = 6000.0
    # Proxies whose X-Forwarded-For is believed: comma-separated addresses or CIDR networks.
    trusted_proxies: str = ""
    # Citizen identity (SPEC "Additions"): a citizen's submission carries a JWT from the portal's OpenID
    # Connect provider, verified against its JWKS, whose ``sub`` must be the submission's resident ID.
    auth_required: bool = True
    auth_issuer: str = "http://127.0.0.1:8092"
    auth_jwks_url: str | None = None  # default: <AUTH_ISSUER>/.well-known/jwks.json
    auth_audience: str = "ticketgate"
    # Tolerated difference between the provider's clock and ours, for exp, nbf and iat.
    auth_clock_skew_seconds: float = 30.0
    # With AUTH_REQUIRED=false an upstream gateway verifies citizens and names the verified resident ID in
    # this header; it is believed only on connections from TRUSTED_PROXIES.
    auth_subject_header: str = "X-Authenticated-Subject"
    # The development identity provider (python -m bench.idp).
    idp_port: int = 8092
    # Script defence (frontdoor/defense): a verified citizen's submissions a minute before it must solve a
    # proof-of-work challenge; an unverified client's (AUTH_REQUIRED=false, no gateway subject) per address
    # and per /24 (IPv4) or /56 (IPv6) network; the challenge's zero bits, at first and at most. 16 bits
    # take a phone's browser about a second; each doubling past the allowance adds one.
    challenge_after_per_minute: float = 10.0
    challenge_per_address_per_minute: float = 60.0
    challenge_per_network_per_minute: float = 600.0
    pow_difficulty_bits: int = 16
    pow_max_difficulty_bits: int = 24
    # Capacity assumed per kind (tickets a second) before any completion has been measured.
    assumed_drain_per_second: float = 10.0
    # Admission (issue 3): the longest wait the system promises an admitted ticket; the controller admits
    # what the measured capacity can finish within it and sheds the rest. Live values come from the
    # throttle document in Redis; these are its defaults.
    max_wait_seconds: float = 900.0
    enterprise_share: float = 0.3
    control_interval_seconds: float = 1.0
    # The longest Retry-After a shed answer gives; its suggested_time may lie further ahead.
    shed_max_retry_after_seconds: float = 300.0
    # Time of day for the forecast's daily and weekly pattern: the portal's citizens' local time.
    local_timezone: str = "Asia/Shanghai"
    # Dates (YYYY-MM-DD, comma-separated) the forecast treats as rest days: public holidays. Its daily and
    # weekly shapes would otherwise expect a working day's peaks.
    forecast_holidays: str = ""
    # Workers bound their core calls with an adaptive concurrency limit (up to WORKER_CONCURRENCY).
    adaptive_concurrency: bool = True
    # Bulk (issue 4): items a batch may hold, the largest bulk body, and the length of the windows that
    # bulk items beyond what may run now are booked into (the night channel).
    bulk_max_items: int = 10_000
    bulk_max_body_bytes: int = 16 * 1024 * 1024
    bulk_window_seconds: int = 300
    # Callbacks: how many deliveries are tried, with exponential backoff from the first delay.
    callback_max_attempts: int = 12
    callback_first_delay_seconds: float = 2.0
    callback_timeout_seconds: float = 10.0
    # Networks (CIDRs) callbacks may reach although private, over http too (queue_config.web.callback_urls).
    callback_allowed_networks: str = ""
    # Where the worker process serves /metrics and /healthz (0: a free port, logged at start).
    worker_metrics_port: int = 8091
    log_level: str = "info"
    # Several processes of one component on one port (SO_REUSEPORT: the kernel spreads connections),
    # for a machine with more cores than one event loop can use.
    reuse_port: bool = False

    @property
    def holidays(self) -> list[str]:
        return [
            dt.date.fromisoformat(d.strip()).isoformat()
            for d in self.forecast_holidays.split(",")
            if d.strip()
        ]

    @property
    def jwks_url(self) -> str:
        return self.auth_jwks_url or self.auth_issuer.rstrip("/") + "/.well-known/jwks.json"

    @property
    def frontdoor_url(self) -> str:
        return self.public_frontdoor_url or f"http://{self.host}:{self.frontdoor_port}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        config_path = env.get("TICKETGATE_CONFIG")
        if config_path:
            values.update(_read_toml(Path(config_path)))
        for f in dataclasses.fields(cls):
            raw = env.get(f.name.upper())
            if raw is not None and f.name != "worker_concurrency":
                values[f.name] = raw
        concurrency = dict(values.get("worker_concurrency") or cls().worker_concurrency)
        default = env.get("WORKER_CONCURRENCY")
        for kind in KINDS:
            raw = env.get(f"WORKER_CONCURRENCY_{kind.upper()}") or default
            if raw is not None:
                concurrency[kind] = raw
        values["worker_concurrency"] = concurrency
        return cls.from_mapping(values)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Settings:
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = set(values) - set(known)
        if unknown:
            raise ConfigError(f"unknown settings: {', '.join(sorted(unknown))}")
        defaults = cls()
        converted: dict[str, Any] = {}
        for name, raw in values.items():
            converted[name] = _convert(name, raw, getattr(defaults, name))
        settings = cls(**converted)
        settings.validate()
        return settings

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    def wait_replicas(self, cluster: bool) -> int:
        """Replicas a ticket's commit waits for (``redis_wait_replicas``)."""
        if self.redis_wait_replicas == "auto":
            return 1 if cluster else 0
        return int(self.redis_wait_replicas)

    def validate(self) -> None:
        if self.redis_wait_replicas != "auto" and not self.redis_wait_replicas.isdigit():
            raise ConfigError("REDIS_WAIT_REPLICAS must be 'auto' or a number of replicas")
        try:
            _ = self.holidays
        except ValueError as exc:
            raise ConfigError(
                f"FORECAST_HOLIDAYS must be dates YYYY-MM-DD separated by commas: {exc}"
            ) from None
        if not 1 <= self.pow_difficulty_bits <= self.pow_max_difficulty_bits <= 32:
            raise ConfigError(
                "POW_DIFFICULTY_BITS must lie between 1 and POW_MAX_DIFFICULTY_BITS (at most 32)"
            )
        if (
            min(
                self.challenge_after_per_minute,
                self.challenge_per_address_per_minute,
                self.challenge_per_network_per_minute,
            )
            <= 0
        ):
            raise ConfigError("the CHALLENGE_* allowances must be positive")
        if self.auth_clock_skew_seconds < 0:
            raise ConfigError("AUTH_CLOCK_SKEW_SECONDS must not be negative")
        if self.archive_after_seconds < 0 or self.archive_retention_seconds <= self.archive_after_seconds:
            raise ConfigError("ARCHIVE_RETENTION_SECONDS must exceed ARCHIVE_AFTER_SECONDS (>= 0)")
        if self.database_url and self.archive_after_seconds < self.idempotency_ttl_seconds:
            # A repeat finds its ticket through the idempotency key only while the record is in Redis:
            # moved sooner, a retried submission would become a second ticket (a second effect).
            raise ConfigError("ARCHIVE_AFTER_SECONDS must not be shorter than IDEMPOTENCY_TTL_SECONDS")
        if self.database_url and not self.database_url.startswith(("postgresql://", "postgres://")):
            raise ConfigError("DATABASE_URL must be a postgresql:// URL, or empty for no archive")
        if not 1 <= self.queue_shards <= 64:
            raise ConfigError("QUEUE_SHARDS must lie between 1 and 64")
        if self.store_format not in (1, 2):
            raise ConfigError("STORE_FORMAT must be 1 or 2")
        if self.max_attempts < 1:
            raise ConfigError("MAX_ATTEMPTS must be at least 1")
        if self.retry_base_seconds <= 0 or self.retry_max_seconds < self.retry_base_seconds:
            raise ConfigError("RETRY_BASE_SECONDS must be > 0 and <= RETRY_MAX_SECONDS")
        if self.retry_jitter_steps < 1:
            raise ConfigError("RETRY_JITTER_STEPS must be at least 1")
        if not self.namespace.replace("-", "").replace("_", "").isalnum():
            raise ConfigError("NAMESPACE may hold letters, digits, '-' and '_' only")
        if self.max_wait_seconds <= 0 or self.control_interval_seconds <= 0:
            raise ConfigError("MAX_WAIT_SECONDS and CONTROL_INTERVAL_SECONDS must be positive")
        if self.bulk_window_seconds < 1 or self.bulk_max_items < 1:
            raise ConfigError("BULK_WINDOW_SECONDS and BULK_MAX_ITEMS must be at least 1")
        if not 0 <= self.enterprise_share <= 1:
            raise ConfigError("ENTERPRISE_SHARE must lie between 0 and 1")
        for kind, n in self.worker_concurrency.items():
            if n < 1:
                raise ConfigError(f"worker concurrency for {kind} must be at least 1")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return dict(tomllib.load(fh))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read TICKETGATE_CONFIG {path}: {exc}") from exc


def _convert(name: str, raw: Any, default: Any) -> Any:
    if name == "worker_concurrency":
        if not isinstance(raw, Mapping):
            raise ConfigError("worker_concurrency must be a table of kind = number")
        return {str(k): _convert(f"worker_concurrency.{k}", v, 1) for k, v in raw.items()}
    if raw is None or (isinstance(raw, str) and raw == "" and default is None):
        return None
    try:
        if isinstance(default, bool):
            return raw if isinstance(raw, bool) else str(raw).lower() in ("1", "true", "yes", "on")
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name.upper()}: {raw!r} is not a number") from exc
    return str(raw)
