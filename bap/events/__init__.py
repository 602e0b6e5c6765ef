"""Flexibility events: the need, the search, the offers collected, the recommendation and the decision."""
