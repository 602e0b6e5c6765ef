"""Dispatch: turning confirmed orders into device commands over NATS, following them through acks and
telemetry to a measured, settled event. The rules are in docs/dispatch.md."""
