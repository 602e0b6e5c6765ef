"""Offer terms: what the aggregator sells per grid node and direction, at what price, under which rules."""
