"""The operators' console: WebSocket fan-out, snapshot, and plain commands parsed deterministically."""
