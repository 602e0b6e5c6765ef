"""The aggregator's Beckn side: reading requests, the handler of each action, and the callbacks it sends."""
