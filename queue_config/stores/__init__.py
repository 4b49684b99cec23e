"""The store layer: every read and write of shared state. Only this package imports ``redis``."""
