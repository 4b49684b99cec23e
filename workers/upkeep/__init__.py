"""What a worker process does beside its tickets: archiving, capacity reports, maintenance, metrics."""
