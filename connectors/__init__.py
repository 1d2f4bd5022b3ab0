"""Connectors: one module per platform, each behind the interface in connectors.base."""
