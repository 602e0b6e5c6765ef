"""Where to reach a running network: printed by `degflex up` and `degflex demo --keep-running`."""

from __future__ import annotations

from participant.network.plan import NetworkPlan


def network_addresses(plan: NetworkPlan) -> list[tuple[str, str]]:
    """(what, where) for people: consoles, APIs, their docs, the registry, NATS."""
    rows: list[tuple[str, str]] = []
    for bap in plan.baps:
        token = f"?token={bap.operator_token}" if bap.operator_token else "?token=<operator token>"
        rows += [
            (f"{bap.subscriber_id} console", f"{bap.url}/console  (sign in with its operator token)"),
            (f"{bap.subscriber_id} API", f"{bap.url}/api  (docs: {bap.url}/docs)"),
            (f"{bap.subscriber_id} WebSocket", f"{_ws(bap.url)}/api/ws{token}"),
        ]
    for bpp in plan.bpps:
        rows.append((f"{bpp.subscriber_id} API", f"{bpp.url}/api  (docs: {bpp.url}/docs)"))
    rows.append(("registry", f"{plan.registry_url}/lookup"))
    if plan.nats is not None:
        rows.append(("NATS", plan.nats.url))
        if plan.nats.monitor_url:
            rows.append(("NATS monitoring", plan.nats.monitor_url))
    tokens = [(part.subscriber_id, part.operator_token) for part in plan.participants if part.operator_token]
    rows += [(f"{name} operator token", token) for name, token in tokens if token]
    rows.append(("files (keys, configs, databases, logs)", str(plan.directory)))
    return rows


def format_addresses(rows: list[tuple[str, str]]) -> str:
    width = max(len(what) for what, _ in rows)
    return "\n".join(f"  {what.ljust(width)}  {where}" for what, where in rows)


def _ws(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest}"
