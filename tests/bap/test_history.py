"""Event history and reliability: what was needed, offered, bought and delivered, as JSON and CSV."""

from __future__ import annotations

import csv
import io

from tests.bap.conftest import UtilityNetwork
from tests.bap.flows import activate, open_event
from tests.bap.test_websocket import push


def test_history_after_a_completed_event_and_reliability_learned_from_it(network: UtilityNetwork) -> None:
    api, console = network.api(), network.console()
    console.next()
    event = activate(api, console)
    alpha = next(o for o in event["orders"] if o["aggregator_id"] == "alpha.aggregator")
    beta = next(o for o in event["orders"] if o["aggregator_id"] == "beta.aggregator")
    push(network, alpha, "COMPLETED", alpha["committed_kw"], devices_acked=2, settled_amount="8")
    half = str(float(beta["committed_kw"]) / 2)
    push(network, beta, "COMPLETED", half, devices_acked=1, settled_amount="3")
    console.expect("completed")

    report = api.get("/api/events").json()
    (row,) = report["events"]
    assert (row["event_id"], row["state"], row["required_kw"]) == (event["id"], "COMPLETED", "50")
    assert len(row["offers"]) == 2 and len(row["orders"]) == 2
    assert row["cost"] == "11"
    assert row["committed_kw"] == str(float(alpha["committed_kw"]) + float(beta["committed_kw"])).rstrip(
        "0"
    ).rstrip(".")
    assert report["reliability"]["alpha.aggregator"][-1]["reliability"] == "1.0000"
    assert report["reliability"]["beta.aggregator"][-1]["ratio"] == "0.5000"

    table = list(csv.DictReader(io.StringIO(api.get("/api/events.csv").text)))
    assert [line["event_id"] for line in table] == [event["id"]]
    assert table[0]["offers"] == "2" and "alpha.aggregator=1.0000" in table[0]["reliability"]

    open_event(api)
    offers = console.expect("options", lambda f: len(f["data"]["offers"]) == 2)["data"]["offers"]
    reliability = {
        offer["aggregator_id"]: (offer["offer_reliability"], offer["reliability"]) for offer in offers
    }
    assert reliability["alpha.aggregator"] == ("0.9", "0.925")
    assert reliability["beta.aggregator"] == ("0.95", "0.8375")
