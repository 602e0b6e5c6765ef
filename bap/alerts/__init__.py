"""Alerts for the desk, grid alerts (HTTP and NATS) turned into events, and conflicts to resolve."""
