"""Worker pools: drain the per-kind queues, call the core systems once per ticket, record the outcome."""
