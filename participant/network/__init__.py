"""A whole DEG network from one description: `degflex up network.yaml` and `degflex demo`.

`spec` reads the description, `plan` turns it into files and commands, `supervisor` runs the processes,
`launch` brings a network up in order; `scenario`, `progress`, `summary` and `recording` are the demo's.
"""
