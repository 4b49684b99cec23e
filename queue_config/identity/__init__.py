"""Citizen identity: the portal's signed tokens, verified by the front door and the status API."""
