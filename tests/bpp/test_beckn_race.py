"""Two utilities go for the last 100 kW of a grid node at the same moment, each at its own replica of the
aggregator (two servers, one database), on SQLite and on PostgreSQL. Both init at once: exactly one holds
the kW, the other's on_init carries error 40002. Both confirm drafts whose holds have lapsed: exactly one
gets the kW, the other a NACK 40002. Holds are placed in the transaction of on_init and commitments in the
one receiving confirm, so a quote in on_init means the kW are held and a confirm's ACK that they are
committed."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from schemas.core_v1 import Action
from tests.bpp.flex_network import (
    Market,
    Sent,
    Utility,
    at_once,
    expire_holds,
    hour_window,
    iso,
    item_id,
    load,
    market,
    offer,
    order,
    write_offers,
)

pytestmark = pytest.mark.slow

ROUNDS = 3
NODES = [f"transformer:RACE-{index}" for index in range(ROUNDS)]


@pytest.fixture
def race_market(tmp_path: Path, database_url: str) -> Iterator[tuple[Market, str]]:
    """Each race node has exactly 100 kW to sell (one 100 kW load, no headroom); two BPP replicas."""
    offers = [offer(node) for node in NODES]
    devices = [load(node, flex_kw=100, device_id=f"load-{index}") for index, node in enumerate(NODES)]
    with market(tmp_path, database_url, offers, devices) as flex:
        second = flex.serve_bpp(database_url, write_offers(tmp_path / "offers-2.yaml", *offers))
        yield flex, second


def test_two_utilities_initialising_the_last_100_kw_at_once_exactly_one_holds(
    race_market: tuple[Market, str],
) -> None:
    flex, second_replica = race_market
    utility, rival, bpp = flex.utility, flex.rival, flex.bpp
    window = hour_window(hours_ahead=2)
    for node in NODES:
        wanted = {"order": order("100", window, item=item_id(node), billing=True)}

        def init(buyer: Utility, url: str, wanted: dict[str, Any] = wanted) -> Sent:
            return buyer.send(bpp, Action.INIT, wanted, url=url)

        inits: list[Sent] = at_once(partial(init, utility, bpp.url), partial(init, rival, second_replica))
        assert all(sent.acked for sent in inits)
        answers = [buyer.callback(sent) for buyer, sent in zip((utility, rival), inits, strict=True)]

        held = [index for index, answer in enumerate(answers) if "message" in answer]
        refused = [answer["error"] for answer in answers if "error" in answer]
        assert len(held) == 1 and len(refused) == 1, answers
        assert answers[held[0]]["message"]["order"]["quote"]["price"]["value"] == "175"
        assert refused[0]["code"] == "40002"
        assert "only 0 kW of REDUCE are" in refused[0]["message"]
        (entry,) = [
            row for row in flex.api.get("/api/capacity", at=iso(window[0])) if row["grid_node"] == node
        ]
        assert (entry["held_kw"], entry["available_kw"]) == (100, 0)

        holder, loser = (utility, rival) if held[0] == 0 else (rival, utility)
        winner_init, loser_init = inits[held[0]], inits[1 - held[0]]
        confirmed = holder.send(bpp, Action.CONFIRM, wanted, transaction_id=winner_init.transaction_id)
        assert confirmed.acked, confirmed.response.text
        nothing = loser.send(bpp, Action.CONFIRM, wanted, transaction_id=loser_init.transaction_id)
        assert nothing.error["code"] == "30010", "a refused init drafts nothing"
        (entry,) = [
            row for row in flex.api.get("/api/capacity", at=iso(window[0])) if row["grid_node"] == node
        ]
        assert (entry["committed_kw"], entry["held_kw"], entry["available_kw"]) == (100, 0, 0)


def test_two_utilities_confirming_the_last_100_kw_at_once_exactly_one_wins(
    race_market: tuple[Market, str],
) -> None:
    """Both drafts are priced for the same 100 kW, each hold lapsing before the other buyer's init."""
    flex, second_replica = race_market
    utility, rival, bpp = flex.utility, flex.rival, flex.bpp
    window = hour_window(hours_ahead=2)
    for node in NODES:
        wanted = {"order": order("100", window, item=item_id(node), billing=True)}
        inits = []
        for buyer in (utility, rival):
            sent = buyer.send(bpp, Action.INIT, wanted)
            assert buyer.callback(sent)["message"]["order"]["quote"]["price"]["value"] == "175"
            expire_holds(flex.database_url)
            inits.append(sent)

        def confirm(buyer: Utility, init: Sent, url: str, wanted: dict[str, Any] = wanted) -> Sent:
            return buyer.send(bpp, Action.CONFIRM, wanted, transaction_id=init.transaction_id, url=url)

        results: list[Sent] = at_once(
            partial(confirm, utility, inits[0], bpp.url), partial(confirm, rival, inits[1], second_replica)
        )

        winners = [sent for sent in results if sent.acked]
        losers = [sent for sent in results if not sent.acked]
        assert len(winners) == 1 and len(losers) == 1, [sent.response.text for sent in results]
        (loser,) = losers
        assert loser.response.status_code == 400
        assert loser.error["code"] == "40002"
        assert "only 0 kW of REDUCE are still available on " + node in loser.error["message"]

        winner_index = results.index(winners[0])
        confirmed = (utility, rival)[winner_index].callback(winners[0])["message"]["order"]
        assert confirmed["status"] == "ACTIVE"

        orders = flex.api.get("/api/orders", grid_node=node)
        assert sorted(entry["status"] for entry in orders) == ["ACTIVE", "DRAFT"]
        capacity = flex.api.get("/api/capacity", at=iso(window[0]))
        (entry,) = [row for row in capacity if row["grid_node"] == node]
        assert (entry["committed_kw"], entry["available_kw"]) == (100, 0)
