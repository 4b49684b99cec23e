"""One root exception, with a branch for "a backing service is gone" so that callers can turn every
transport failure into a 503 in one place (the shape dramatiq uses for its brokers)."""


class TicketgateError(Exception):
    """Root of every error ticketgate raises on purpose."""


class ConfigError(TicketgateError):
    """A setting is missing or malformed."""


class BackendUnavailable(TicketgateError):
    """RabbitMQ or Redis cannot be reached right now; the caller should answer 503 and retry later."""


class BrokerUnavailable(BackendUnavailable):
    """RabbitMQ is unreachable or did not confirm a publish in time."""


class StoreUnavailable(BackendUnavailable):
    """Redis is unreachable or timed out."""


class ArchiveUnavailable(BackendUnavailable):
    """PostgreSQL, which holds the tickets that left Redis, is unreachable or timed out."""


class MessageRejected(TicketgateError):
    """A message could not be decoded: it is dead-lettered, never retried."""
