"""The status API: where a ticket is, when it will be done, and its result."""
