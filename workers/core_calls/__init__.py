"""Calling the core systems: the HTTP client, each kind's handler, and the adaptive limit on the calls
in flight."""
