"""The audit trail of every desk action, by operator, channel and outcome."""
