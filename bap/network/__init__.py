"""The BAP on the network: callback handlers, the domain check they own, and the status of known peers."""
