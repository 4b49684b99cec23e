"""The front door: validates submissions, reserves tickets, publishes them with confirms, answers 202."""
