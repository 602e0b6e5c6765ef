"""Measurement and settlement arithmetic for an aggregator: baselines, delivered flexibility, money.

Pure functions over pydantic models; no I/O, so the dispatcher, the order service and the tests call
them alike. See docs/measurement.md for the formulas.
"""
