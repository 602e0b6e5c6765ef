"""Orders with aggregators: activation (select, init, confirm) with fallback, tracking, change and cancel."""
