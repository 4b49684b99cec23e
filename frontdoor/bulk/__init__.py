"""Bulk: enterprises' batches (quota, booking into forecast quiet windows, releasing windows)."""
