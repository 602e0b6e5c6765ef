"""Every refusal is answered with its Beckn code (docs/bpp.md, "Error codes"), a message saying why, and the
path at fault: as a NACK when the request is refused on receipt, as the callback's `error` otherwise."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bpp.orders import service as orders
from bpp.orders.states import FulfillmentState
from participant.db import make_engine, make_session_factory, utcnow
from schemas.core_v1 import Action
from tests.bpp.flex_network import (
    Market,
    Sent,
    Utility,
    expire_holds,
    hour_window,
    iso,
    item_id,
    load,
    market,
    offer,
    order,
)

pytestmark = pytest.mark.slow

Window = tuple[datetime, datetime]


@pytest.fixture
def flex_market(tmp_path: Path, database_url: str) -> Iterator[Market]:
    """TX-17 sells exactly 100 kW of REDUCE: 0.25/kWh, 10–500 kW, 15 min notice, 4 h at most, cancel 1 h
    ahead."""
    with market(tmp_path, database_url, [offer()], [load(flex_kw=100)]) as flex:
        yield flex


def error_callback(buyer: Utility, sent: Sent) -> dict[str, Any]:
    """The callback's error; such a callback carries no message."""
    assert sent.acked, sent.response.text
    body = buyer.callback(sent)
    assert "message" not in body
    error: dict[str, Any] = body["error"]
    return error


def contract(flex: Market, buyer: Utility, kw: str, window: Window) -> str:
    """init + confirm; the order id."""
    init = buyer.send(flex.bpp, Action.INIT, {"order": order(kw, window)})
    buyer.callback(init)
    confirm = buyer.send(
        flex.bpp, Action.CONFIRM, {"order": order(kw, window)}, transaction_id=init.transaction_id
    )
    assert confirm.acked, confirm.response.text
    order_id: str = buyer.callback(confirm)["message"]["order"]["id"]
    return order_id


def advance(database_url: str, order_id: str, *states: FulfillmentState) -> None:
    """What the dispatcher and metering will do: move the order's fulfillment on."""

    async def run() -> None:
        engine = make_engine(database_url)
        try:
            async with make_session_factory(engine)() as session:
                for state in states:
                    await orders.advance(session, order_id, state, now=utcnow())
                await session.commit()
        finally:
            await engine.dispose()

    asyncio.run(run())


def test_unknown_items_providers_and_orders_are_nacked(flex_market: Market) -> None:
    utility, rival, bpp = flex_market.utility, flex_market.rival, flex_market.bpp
    window = hour_window()

    for unknown in (item_id("transformer:TX-99"), item_id(direction="INCREASE"), "a-sandwich"):
        error = utility.send(bpp, Action.SELECT, {"order": order("50", window, item=unknown)}).error
        assert error == {
            "code": "30004",
            "paths": "message.order.items[0].id",
            "message": f"item {unknown!r} is not offered here",
        }

    error = utility.send(bpp, Action.INIT, {"order": order("50", window, provider="someone.else")}).error
    assert (error["code"], error["paths"]) == ("30001", "message.order.provider.id")
    assert "'someone.else' is not served here" in error["message"]

    error = utility.send(bpp, Action.STATUS, {"order_id": "no-such-order"}).error
    assert error == {"code": "30010", "paths": "message.order_id", "message": "no order 'no-such-order'"}

    order_id = contract(flex_market, utility, "50", window)
    assert rival.send(bpp, Action.STATUS, {"order_id": order_id}).error["code"] == "30010"
    assert rival.send(bpp, Action.CANCEL, {"order_id": order_id}).error["code"] == "30010"
    assert utility.send(bpp, Action.STATUS, {"order_id": order_id}).acked

    track = utility.send(bpp, Action.TRACK, {"order_id": order_id})
    assert track.error["code"] == "40001"


def test_what_the_offer_refuses_comes_back_in_on_select_and_on_init(flex_market: Market) -> None:
    utility, bpp = flex_market.utility, flex_market.bpp
    window = hour_window()

    error = error_callback(utility, utility.send(bpp, Action.SELECT, {"order": order("150", window)}))
    assert error == {
        "code": "40002",
        "paths": "message.order.items[0].quantity.selected.measure",
        "message": "only 100 kW of REDUCE are available on transformer:TX-17 over that window; 150 kW asked",
    }
    error = error_callback(utility, utility.send(bpp, Action.INIT, {"order": order("150", window)}))
    assert error["code"] == "40002"

    error = error_callback(utility, utility.send(bpp, Action.SELECT, {"order": order("600", window)}))
    assert error["code"] == "40002"
    assert "above the maximum of 500 kW" in error["message"]

    error = error_callback(utility, utility.send(bpp, Action.SELECT, {"order": order("5", window)}))
    assert error["code"] == "40000"
    assert "5 kW is below the minimum of 10 kW" in error["message"]

    too_long = (window[0], window[0] + timedelta(hours=5))
    error = error_callback(utility, utility.send(bpp, Action.SELECT, {"order": order("50", too_long)}))
    assert (error["code"], error["paths"]) == ("40000", "message.order.fulfillments[0].stops[0].time.range")
    assert "the event lasts 5 h, longer than the 4 h maximum" in error["message"]

    too_soon = hour_window(hours_ahead=0.1)
    error = error_callback(utility, utility.send(bpp, Action.SELECT, {"order": order("50", too_soon)}))
    assert error["code"] == "40000"
    assert "needs at least 15 min notice" in error["message"]

    backwards = (window[1], window[0])
    nack = utility.send(bpp, Action.SELECT, {"order": order("50", backwards)}).error
    assert nack["code"] == "30000"
    assert nack["paths"] == "message.order.fulfillments[0].stops[0].time.range.end"

    no_quantity = utility.send(bpp, Action.SELECT, {"order": order(None, window)})
    error = error_callback(utility, no_quantity)
    assert (error["code"], error["paths"]) == ("30000", "message.order.items[0].quantity.selected.measure")

    wrong_unit = order("50", window)
    wrong_unit["items"][0]["quantity"]["selected"]["measure"]["unit"] = "kWh"
    nack = utility.send(bpp, Action.SELECT, {"order": wrong_unit}).error
    assert (nack["code"], nack["paths"]) == ("30000", "message.order.items[0].quantity.selected.measure.unit")


def test_confirm_refusals_are_nacks_and_change_nothing(flex_market: Market) -> None:
    utility, rival, bpp = flex_market.utility, flex_market.rival, flex_market.bpp
    window = hour_window()

    error = utility.send(bpp, Action.CONFIRM, {"order": order("50", window)}).error
    assert error["code"] == "30010"
    assert "send init before confirm" in error["message"]

    init = utility.send(bpp, Action.INIT, {"order": order("80", window)})
    utility.callback(init)
    expire_holds(flex_market.database_url)  # the hold lapses; the quote still stands
    contract(flex_market, rival, "40", window)
    taken = utility.send(
        bpp, Action.CONFIRM, {"order": order("80", window)}, transaction_id=init.transaction_id
    )
    assert taken.error == {
        "code": "40002",
        "paths": "message.order.items[0].quantity.selected.measure",
        "message": "only 60 kW of REDUCE are still available on transformer:TX-17 over that window; "
        "80 kW asked",
    }
    changed = utility.send(
        bpp, Action.CONFIRM, {"order": order("60", window)}, transaction_id=init.transaction_id
    )
    assert changed.error["code"] == "30000"
    assert "send init again" in changed.error["message"]

    (draft,) = flex_market.api.get("/api/orders", bap_id=utility.subscriber_id)
    assert draft["status"] == "DRAFT"
    (capacity,) = flex_market.api.get("/api/capacity", at=iso(window[0]))
    assert (capacity["committed_kw"], capacity["held_kw"], capacity["available_kw"]) == (40, 0, 60)


def test_an_expired_quote_cannot_be_confirmed(tmp_path: Path, database_url: str) -> None:
    with market(tmp_path, database_url, [offer()], [load(flex_kw=100)], quote_ttl_seconds=1) as flex:
        window = hour_window()
        init = flex.utility.send(flex.bpp, Action.INIT, {"order": order("50", window)})
        assert flex.utility.callback(init)["message"]["order"]["quote"]["ttl"] == "PT1S"
        time.sleep(1.2)
        confirm = flex.utility.send(
            flex.bpp, Action.CONFIRM, {"order": order("50", window)}, transaction_id=init.transaction_id
        )
        assert confirm.error["code"] == "40003"
        assert "send init again for a new one" in confirm.error["message"]


def test_cancel_refusals(flex_market: Market) -> None:
    utility, bpp = flex_market.utility, flex_market.bpp

    soon = contract(flex_market, utility, "20", hour_window(hours_ahead=0.5))
    error = utility.send(bpp, Action.CANCEL, {"order_id": soon}).error
    assert error["code"] == "50001" and "paths" not in error
    assert "cancellation closed 1 h before the start of the event" in error["message"]

    done = contract(flex_market, utility, "20", hour_window(hours_ahead=3))
    advance(flex_market.database_url, done, FulfillmentState.DISPATCHED, FulfillmentState.COMPLETED)
    error = utility.send(bpp, Action.CANCEL, {"order_id": done}).error
    assert error["code"] == "50001"
    assert "is COMPLETED: it can no longer be cancelled" in error["message"]

    error = utility.send(bpp, Action.CANCEL, {"order_id": "no-such-order"}).error
    assert error["code"] == "30010"

    later = contract(flex_market, utility, "20", hour_window(hours_ahead=4))
    first = utility.send(bpp, Action.CANCEL, {"order_id": later})
    again = utility.send(bpp, Action.CANCEL, {"order_id": later})
    assert first.acked and again.acked
    assert utility.callback(again)["message"]["order"]["status"] == "CANCELLED"


def test_update_refusals(flex_market: Market) -> None:
    utility, bpp = flex_market.utility, flex_market.bpp
    window = hour_window(hours_ahead=3)
    order_id = contract(flex_market, utility, "50", window)

    def update(target: str, kw: str | None, new_window: Window | None) -> Sent:
        body = {"update_target": target, "order": order(kw, new_window, order_id=order_id)}
        return utility.send(bpp, Action.UPDATE, body)

    error = update("order.billing", "60", None).error
    assert (error["code"], error["paths"]) == ("30012", "message.update_target")
    assert "cannot update order.billing" in error["message"]

    error = update("order.items[0].quantity", "120", None).error
    assert error["code"] == "40002"
    assert "only 100 kW of REDUCE are still available" in error["message"]

    error = update("order.fulfillments[0].stops", None, (window[0], window[0] + timedelta(hours=6))).error
    assert error["code"] == "40000"

    error = update("order.items[0].quantity", None, None).error
    assert error["code"] == "30000"

    moved = hour_window(hours_ahead=5)
    assert update("order.fulfillments[0].stops,order.items[0].quantity", "70", moved).acked

    advance(flex_market.database_url, order_id, FulfillmentState.DISPATCHED)
    error = update("order.items[0].quantity", "60", None).error
    assert error["code"] == "50002"
    assert "is DISPATCHED: only a SCHEDULED order can change" in error["message"]


def test_updates_close_the_configured_time_before_the_event(tmp_path: Path, database_url: str) -> None:
    with market(tmp_path, database_url, [offer()], [load(flex_kw=100)], update_cutoff_seconds=3600) as flex:
        order_id = contract(flex, flex.utility, "10", hour_window(hours_ahead=0.5))
        body = {"update_target": "order.items[0].quantity", "order": order("20", None, order_id=order_id)}
        error = flex.utility.send(flex.bpp, Action.UPDATE, body).error
        assert error["code"] == "50002"
        assert "changes closed 1 h before the event" in error["message"]
