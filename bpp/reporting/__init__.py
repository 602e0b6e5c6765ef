"""What the aggregator tells the utility about an order's event: its state, measured performance and
settlement, in `on_status` (answered, and pushed unsolicited as the event progresses)."""
