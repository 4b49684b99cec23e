"""A simulator of the core systems (every kind in ``queue_config.kinds``): capacity model and ledger."""
