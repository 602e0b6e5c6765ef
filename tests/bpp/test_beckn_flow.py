"""A utility buys flexibility from the aggregator over real, signed HTTP: search → … → cancel, on SQLite and
PostgreSQL. Every callback is valid against the Beckn 1.1.1 spec and the profile's schemas."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from schemas.core_v1 import Action
from schemas.profile import read_tag_group
from tests.bpp.flex_network import (
    NODE,
    PROVIDER,
    Market,
    hour_window,
    iso,
    item_id,
    load,
    market,
    offer,
    order,
    search_message,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def flex_market(tmp_path: Path, database_url: str) -> Iterator[Market]:
    """TX-17: 120 + 80 kW of flexible load, REDUCE offered with 10 % headroom (180 kW sellable)."""
    devices = [
        load(flex_kw=120, device_id="load-a"),
        load(flex_kw=80, device_id="load-b", area_code="560002"),
    ]
    with market(tmp_path, database_url, [offer(reliability_headroom="0.1")], devices) as flex:
        yield flex


def quantity(item: dict[str, object], kind: str) -> str:
    measure = item["quantity"][kind]["measure"]  # type: ignore[index]
    assert measure["unit"] == "kW"
    return str(measure["value"])


def test_search_lists_the_offer_with_what_it_can_still_sell(flex_market: Market) -> None:
    window = hour_window()
    sent = flex_market.utility.send(flex_market.bpp, Action.SEARCH, search_message(window))
    assert sent.acked

    catalog = flex_market.utility.callback(sent)["message"]["catalog"]
    (provider,) = catalog["providers"]
    assert provider["id"] == PROVIDER
    assert provider["descriptor"]["name"] == "Flex Aggregator"
    (item,) = provider["items"]
    assert item["id"] == item_id()
    assert quantity(item, "available") == "180"
    assert (quantity(item, "minimum"), quantity(item, "maximum")) == ("10", "500")
    assert item["price"] == {"currency": "INR", "value": "0.25"}
    tags = read_tag_group(item["tags"], "flex_offer")
    assert tags is not None
    assert tags["direction"] == "REDUCE" and tags["grid_node"] == NODE
    assert tags["device_types"] == "FLEXIBLE_LOAD"
    assert tags["response_time"] == "PT5M" and tags["max_duration"] == "PT4H"
    (location,) = provider["locations"]
    assert location["id"] == NODE and location["gps"] == "12.971600,77.594600"
    assert location["area_code"] == "560001"
    (fulfillment,) = provider["fulfillments"]
    assert fulfillment["stops"][0]["time"]["range"] == {"start": iso(window[0]), "end": iso(window[1])}


def test_the_whole_contract_from_select_to_cancel(flex_market: Market) -> None:
    utility, bpp = flex_market.utility, flex_market.bpp
    window = hour_window(hours_ahead=3, length_hours=2)

    select = utility.send(bpp, Action.SELECT, {"order": order("80", window)})
    assert select.acked
    quoted = utility.callback(select)["message"]["order"]
    # 80 kW × 2 h × 0.25 = 40 for energy, 80 kW × 1.5 = 120 for the reservation
    assert quoted["quote"]["price"] == {"currency": "INR", "value": "160"}
    assert [line["price"]["value"] for line in quoted["quote"]["breakup"]] == ["40", "120"]
    assert quoted["quote"]["ttl"] == "PT15M"

    transaction = select.transaction_id
    init = utility.send(
        bpp, Action.INIT, {"order": order("80", window, billing=True)}, transaction_id=transaction
    )
    assert init.acked
    drafted = utility.callback(init)["message"]["order"]
    assert "id" not in drafted and "status" not in drafted
    assert drafted["billing"]["name"] == "Bay Utility"
    assert drafted["payments"] == [
        {
            "id": "post-fulfillment",
            "collected_by": "BPP",
            "params": {"amount": "160", "currency": "INR"},
            "type": "POST-FULFILLMENT",
            "status": "NOT-PAID",
        }
    ]
    (terms,) = drafted["cancellation_terms"]
    assert terms["cancellation_fee"]["amount"]["value"] == "50"

    confirm = utility.send(bpp, Action.CONFIRM, {"order": order("80", window)}, transaction_id=transaction)
    assert confirm.acked
    confirmed = utility.callback(confirm)["message"]["order"]
    order_id = confirmed["id"]
    assert confirmed["status"] == "ACTIVE"
    assert confirmed["fulfillments"][0]["state"]["descriptor"]["code"] == "SCHEDULED"
    assert read_tag_group(confirmed["tags"], "commitment") == {
        "committed_kw": "80",
        "devices": "2",
        "grid_node": NODE,
        "window_start": iso(window[0]),
        "window_end": iso(window[1]),
    }

    status = utility.send(bpp, Action.STATUS, {"order_id": order_id}, transaction_id=transaction)
    assert status.acked
    assert utility.callback(status)["message"]["order"]["status"] == "ACTIVE"

    update = utility.send(
        bpp,
        Action.UPDATE,
        {"update_target": "order.items[0].quantity", "order": order("100", None, order_id=order_id)},
        transaction_id=transaction,
    )
    assert update.acked
    updated = utility.callback(update)["message"]["order"]
    assert quantity(updated["items"][0], "selected") == "100"
    assert updated["quote"]["price"]["value"] == "200"  # 100 × 2 × 0.25 + 100 × 1.5

    capacity = flex_market.api.get("/api/capacity", at=iso(window[0]))
    (reduce,) = [entry for entry in capacity if entry["grid_node"] == NODE]
    assert (reduce["committed_kw"], reduce["available_kw"]) == (100, 80)

    cancel = utility.send(
        bpp, Action.CANCEL, {"order_id": order_id, "cancellation_reason_id": "1"}, transaction_id=transaction
    )
    assert cancel.acked
    cancelled = utility.callback(cancel)["message"]["order"]
    assert cancelled["status"] == "CANCELLED"
    assert cancelled["fulfillments"][0]["state"]["descriptor"]["code"] == "CANCELLED"
    assert cancelled["cancellation"]["reason"] == {"id": "1"}
    assert cancelled["quote"]["price"] == {"currency": "INR", "value": "50"}

    capacity = flex_market.api.get("/api/capacity", at=iso(window[0]))
    (reduce,) = [entry for entry in capacity if entry["grid_node"] == NODE]
    assert (reduce["committed_kw"], reduce["available_kw"]) == (0, 180)

    detail = flex_market.api.get(f"/api/orders/{order_id}")
    assert [event["kind"] for event in detail["events"]] == ["DRAFTED", "CONFIRMED", "UPDATED", "CANCELLED"]
    actions = [(message["direction"], message["action"]) for message in detail["messages"]]
    for action in ("select", "init", "confirm", "status", "update", "cancel"):
        assert ("in", action) in actions and ("out", f"on_{action}") in actions
    assert Decimal(detail["order"]["kw"]) == 100


def test_init_holds_the_kw_for_the_buyers_confirm(flex_market: Market) -> None:
    utility, rival, bpp = flex_market.utility, flex_market.rival, flex_market.bpp
    window = hour_window()

    def capacity() -> tuple[int, int, int]:
        (entry,) = flex_market.api.get("/api/capacity", at=iso(window[0]))
        return entry["committed_kw"], entry["held_kw"], entry["available_kw"]

    init = utility.send(bpp, Action.INIT, {"order": order("150", window)})
    drafted = utility.callback(init)["message"]["order"]
    assert drafted["quote"]["ttl"] == "PT10M", "the quote is firm while its kW are held"
    assert capacity() == (0, 150, 30)

    search = rival.send(bpp, Action.SEARCH, search_message(window))
    (item,) = rival.callback(search)["message"]["catalog"]["providers"][0]["items"]
    assert quantity(item, "available") == "30"
    refused = rival.callback(rival.send(bpp, Action.INIT, {"order": order("40", window)}))
    assert "message" not in refused
    assert refused["error"] == {
        "code": "40002",
        "paths": "message.order.items[0].quantity.selected.measure",
        "message": "only 30 kW of REDUCE are available on transformer:TX-17 over that window; 40 kW asked",
    }

    rival_init = rival.send(bpp, Action.INIT, {"order": order("30", window)})
    assert "error" not in rival.callback(rival_init)
    assert capacity() == (0, 180, 0)
    (rival_draft,) = flex_market.api.get("/api/orders", transaction_id=rival_init.transaction_id)
    cancel = rival.send(
        bpp, Action.CANCEL, {"order_id": rival_draft["id"]}, transaction_id=rival_init.transaction_id
    )
    assert rival.callback(cancel)["message"]["order"]["status"] == "CANCELLED"
    assert capacity() == (0, 150, 30), "cancelling a draft releases its hold"

    confirm = utility.send(
        bpp, Action.CONFIRM, {"order": order("150", window)}, transaction_id=init.transaction_id
    )
    assert confirm.acked, confirm.response.text
    assert utility.callback(confirm)["message"]["order"]["status"] == "ACTIVE"
    assert capacity() == (150, 0, 30)


def test_a_search_that_matches_nothing_is_not_answered(flex_market: Market) -> None:
    silent = flex_market.utility.send(
        flex_market.bpp, Action.SEARCH, search_message(hour_window(), direction="INCREASE")
    )
    answered = flex_market.utility.send(flex_market.bpp, Action.SEARCH, search_message(hour_window()))
    assert silent.acked and answered.acked

    flex_market.utility.callback(answered)
    assert flex_market.utility.callbacks(Action.SEARCH, silent.message_id) == []
