"""The benchmark harness behind ``python -m bench``: targets, load, sampling, accounting, report."""
