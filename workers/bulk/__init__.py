"""Enterprise bulk work: moving released bundles to the work queues, and batch callbacks."""
