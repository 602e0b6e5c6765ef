"""The catalog: which offers match a utility's search, and how many kW each can still sell."""
