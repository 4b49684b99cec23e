"""Benchmarks, load scenarios and the core-system simulator."""
