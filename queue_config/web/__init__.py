"""HTTP plumbing every service shares: JSON answers, serving, health, the OpenAPI contract, callback
URL policy."""
