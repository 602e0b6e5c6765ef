"""Which flexibility offers a utility should take to cover a need at least cost (`recommend`).

Pure computation over pydantic models; see docs/measurement.md for the algorithm.
"""
