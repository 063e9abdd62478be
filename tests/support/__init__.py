"""Helpers the fixtures use to run real servers (PostgreSQL, later Synapse, OIDC, browsers)."""
