"""The aggregator's fleet: the distributed energy resources (DERs) it can command, per grid node."""
