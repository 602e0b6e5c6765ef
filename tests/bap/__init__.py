"""Tests of the utility BAP: desk services, console socket, and flows against aggregators on real HTTP."""
