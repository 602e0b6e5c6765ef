"""Capacity: how many kW a grid node can still promise, and reservations that never promise a kW twice."""
