"""Intake: a citizen's submission from its HTTP body to its 202 (body reading, validation, reserve,
bundled publish, commit)."""
