"""Orders, their reservations and their holds live in the database, not in the process: `degflex bpp`
stopped (SIGTERM) or killed (SIGKILL) and started again on the same database still knows every order and
never sells the kW it already promised or holds — on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from schemas.core_v1 import Action
from tests.bpp.flex_network import NODE, Market, Utility, hour_window, iso, load, market, offer, order

pytestmark = pytest.mark.slow


@pytest.fixture
def running(tmp_path: Path, database_url: str) -> Iterator[Market]:
    """TX-17 sells exactly 100 kW; the BPP is a `degflex bpp` process."""
    with market(tmp_path, database_url, [offer()], [load(flex_kw=100)], as_process=True) as flex:
        yield flex


def committed_held_available(flex: Market, at: str) -> tuple[float, float, float]:
    (entry,) = [row for row in flex.api.get("/api/capacity", at=at) if row["grid_node"] == NODE]
    return entry["committed_kw"], entry["held_kw"], entry["available_kw"]


def status_of(utility: Utility, flex: Market, order_id: str) -> str:
    sent = utility.send(flex.bpp, Action.STATUS, {"order_id": order_id})
    assert sent.acked, sent.response.text
    state: str = utility.callback(sent)["message"]["order"]["fulfillments"][0]["state"]["descriptor"]["code"]
    return state


def test_orders_and_reservations_survive_stop_and_kill(running: Market) -> None:
    utility, rival, bpp = running.utility, running.rival, running.bpp
    process = running.process
    assert process is not None
    window = hour_window(hours_ahead=3)
    start = iso(window[0])

    init = utility.send(bpp, Action.INIT, {"order": order("60", window)})
    utility.callback(init)
    confirm = utility.send(
        bpp, Action.CONFIRM, {"order": order("60", window)}, transaction_id=init.transaction_id
    )
    order_id = utility.callback(confirm)["message"]["order"]["id"]
    drafted = rival.send(bpp, Action.INIT, {"order": order("40", window)})
    rival.callback(drafted)
    assert committed_held_available(running, start) == (60, 40, 0)

    process.stop()
    process.start()

    assert status_of(utility, running, order_id) == "SCHEDULED"
    assert committed_held_available(running, start) == (60, 40, 0)
    greedy = utility.send(bpp, Action.INIT, {"order": order("50", window)})
    assert utility.callback(greedy)["error"]["code"] == "40002"

    process.kill()
    process.start()

    assert status_of(utility, running, order_id) == "SCHEDULED"
    late = rival.send(
        bpp, Action.CONFIRM, {"order": order("40", window)}, transaction_id=drafted.transaction_id
    )
    assert late.acked, late.response.text
    assert rival.callback(late)["message"]["order"]["status"] == "ACTIVE"
    assert committed_held_available(running, start) == (100, 0, 0)

    process.kill()
    process.start()

    cancel = utility.send(bpp, Action.CANCEL, {"order_id": order_id})
    assert cancel.acked
    assert utility.callback(cancel)["message"]["order"]["status"] == "CANCELLED"
    assert committed_held_available(running, start) == (40, 0, 60)
    orders = sorted((entry["bap_id"], entry["status"]) for entry in running.api.get("/api/orders"))
    assert orders == [("rival.bap", "ACTIVE"), ("utility.bap", "CANCELLED")]
