"""The chaos harness (``python -m bench.chaos``): the whole system on a private broker and Redis, an
open-loop load of every kind, scheduled faults, and the accounting of every ticket a 202 gave out."""
