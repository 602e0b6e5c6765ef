"""The aggregator's devices over NATS JetStream: the BPP's bus, device agents and their adapters, the
fleet simulator and per-device credentials. The protocol is described in docs/devices.md."""
