"""PostgreSQL back end: the archive of finished tickets (``queue_config.stores.archive``)."""
