"""`degflex registry`: a small SQL-backed Beckn registry (lookup, subscribe with challenge, admin API)."""

from participant.registry.app import create_registry_app

__all__ = ["create_registry_app"]
