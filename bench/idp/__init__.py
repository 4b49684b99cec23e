"""A development OpenID Connect identity provider: the portal's login, for tests and the benchmark."""
