"""Which offers a search finds, with how many kW, and the on_search catalog built from them."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from bpp.beckn.catalog import catalog_message
from bpp.capacity import service as capacity
from bpp.capacity.models import ReservationStatus
from bpp.catalog.query import Circle, FlexQuery, GeoPoint
from bpp.catalog.service import find_offers, load_offers_file
from bpp.fleet.models import DerKind, FlexDirection
from bpp.offers import service as offers
from bpp.orders.requests import OfferRef, Window
from bpp.settings import BppSettings
from registry_client.keys import generate_identity
from schemas.core_v1 import Action, Context
from schemas.profile import profile_errors
from tests.bpp.factories import add_devices, at, battery_create, der_create, offer_terms_in
from tests.bpp.flex_network import offer, write_offers
from tests.support.conformance import assert_conforms

REDUCE, INCREASE = FlexDirection.REDUCE, FlexDirection.INCREASE
TX17, F3, BUS = "transformer:TX-17", "feeder:F-3", "bus:B-1"
NOW = at(-2)
WINDOW = Window(at(0), at(1))
TX17_CENTRE = GeoPoint(12.97, 77.59)


@pytest.fixture
async def fleet(session: AsyncSession) -> None:
    """TX-17: loads of 120 and 80 kW and a 20 kW / 40 kWh battery half full; F-3: 50 kW of solar; B-1: a
    30 kW load. Every offer: 10–500 kW, 10 % headroom."""
    located = {"latitude": 12.97, "longitude": 77.59}
    await add_devices(
        session,
        der_create(
            grid_node=TX17, rated_kw=Decimal(120), flex_kw=Decimal(120), area_code="560001", **located
        ),
        der_create(grid_node=TX17, rated_kw=Decimal(80), flex_kw=Decimal(80), area_code="560002", **located),
        battery_create(
            grid_node=TX17,
            rated_kw=Decimal(20),
            flex_kw=Decimal(20),
            battery_capacity_kwh=Decimal(40),
            area_code="560001",
            reliability=0.85,
            **located,
        ),
        der_create(
            grid_node=F3,
            kind=DerKind.SOLAR_INVERTER,
            rated_kw=Decimal(50),
            flex_kw=Decimal(50),
            latitude=13.5,
            longitude=78.0,
        ),
        der_create(grid_node=BUS, rated_kw=Decimal(30), flex_kw=Decimal(30)),
    )
    for node, direction in [(TX17, REDUCE), (TX17, INCREASE), (F3, INCREASE), (F3, REDUCE), (BUS, REDUCE)]:
        await offers.put_terms(session, node, direction, offer_terms_in())
    await session.commit()


async def found(session: AsyncSession, **query: object) -> list[tuple[str, str]]:
    result = await find_offers(session, FlexQuery(**query), now=NOW)  # type: ignore[arg-type]
    return [(entry.item_id, str(entry.available_kw)) for entry in result]


async def test_every_offer_with_devices_to_serve_it_is_found(session: AsyncSession, fleet: None) -> None:
    # TX-17 REDUCE: (120 + 80 + 20) × 0.9; INCREASE: the battery's 20 kW (20 kWh of room over 1 h) × 0.9
    assert await found(session, window=WINDOW) == [
        ("bus:B-1:REDUCE", "27.000"),
        ("feeder:F-3:INCREASE", "45.000"),
        ("transformer:TX-17:INCREASE", "18.000"),
        ("transformer:TX-17:REDUCE", "198.000"),
    ]
    # over 4 h the battery can only hold 5 kW up: 4.5 kW is below the offer's 10 kW minimum
    assert "transformer:TX-17:INCREASE" not in [
        item for item, _ in await found(session, window=Window(at(0), at(4)))
    ]


async def test_a_search_narrows_by_direction_node_item_and_place(session: AsyncSession, fleet: None) -> None:
    items = [item for item, _ in await found(session, window=WINDOW, direction=REDUCE)]
    assert items == ["bus:B-1:REDUCE", "transformer:TX-17:REDUCE"]
    assert [item for item, _ in await found(session, grid_node=F3)] == ["feeder:F-3:INCREASE"]
    assert [item for item, _ in await found(session, item=OfferRef(TX17, INCREASE))] == [
        "transformer:TX-17:INCREASE"
    ]
    assert [item for item, _ in await found(session, area_code="560002")] == [
        "transformer:TX-17:INCREASE",
        "transformer:TX-17:REDUCE",
    ]
    near = Circle(GeoPoint(12.99, 77.59), radius_m=3000)
    assert [item for item, _ in await found(session, circle=near, direction=REDUCE)] == [
        "transformer:TX-17:REDUCE"
    ]
    assert await found(session, circle=Circle(GeoPoint(12.99, 77.59), radius_m=1000)) == []


async def test_offers_whose_terms_refuse_the_window_are_left_out(session: AsyncSession, fleet: None) -> None:
    assert await found(session, window=Window(at(0), at(5))) == []
    assert await found(session, window=Window(NOW + timedelta(minutes=5), at(0))) == []
    assert await found(session, min_notice=timedelta(minutes=5)) == []
    assert len(await found(session, min_notice=timedelta(minutes=15))) == 4


async def test_an_offer_with_less_than_its_minimum_left_is_left_out(
    session: AsyncSession, fleet: None
) -> None:
    await capacity.reserve(
        session,
        grid_node=F3,
        direction=INCREASE,
        kw=Decimal(40),
        window_start=WINDOW.start,
        window_end=WINDOW.end,
        holder="utility",
    )
    await offers.put_terms(session, BUS, REDUCE, offer_terms_in(active=False))

    assert [item for item, _ in await found(session, window=WINDOW)] == [
        "transformer:TX-17:INCREASE",
        "transformer:TX-17:REDUCE",
    ]
    assert [item for item, _ in await found(session, window=Window(at(2), at(3)))][:2] == [
        "feeder:F-3:INCREASE",
        "transformer:TX-17:INCREASE",
    ]


async def test_live_holds_are_not_for_sale_and_expired_ones_are_again(
    session: AsyncSession, fleet: None
) -> None:
    # A search reads holds as of the search's `now` (the handler passes the clock).
    clock = NOW
    for kw, expires_at in [(100, clock + timedelta(minutes=10)), (50, clock - timedelta(seconds=1))]:
        await capacity.reserve(
            session,
            grid_node=TX17,
            direction=REDUCE,
            kw=Decimal(kw),
            window_start=WINDOW.start,
            window_end=WINDOW.end,
            holder="utility",
            status=ReservationStatus.HELD,
            expires_at=expires_at,
            now=clock - timedelta(minutes=5),
        )

    assert ("transformer:TX-17:REDUCE", "98.000") in await found(session, window=WINDOW)


async def test_without_a_window_the_offers_show_what_is_free_now(session: AsyncSession, fleet: None) -> None:
    assert ("transformer:TX-17:REDUCE", "198.000") in await found(session)


async def test_the_catalog_is_valid_beckn_and_profile(
    session: AsyncSession, fleet: None, tmp_path: Path
) -> None:
    identity = generate_identity("aggregator.bpp")
    settings = BppSettings(
        subscriber_id=identity.subscriber_id,
        subscriber_url="https://aggregator.example",
        unique_key_id=identity.unique_key_id,
        signing_private_key=identity.signing_private_key,
        registry_file=tmp_path / "registry.yaml",
        provider_name="Flex Aggregator",
    )
    message = catalog_message(settings, await find_offers(session, FlexQuery(window=WINDOW), now=NOW), WINDOW)
    context = Context.new(
        action=Action.ON_SEARCH, domain="deg:demand-flex", bap_id="u", bap_uri="https://u.example"
    )

    body = {"context": context.dump(), "message": message.dump()}
    assert_conforms(body)
    assert profile_errors(body["message"]) == []
    (provider,) = body["message"]["catalog"]["providers"]
    # bus:B-1 is no grid node kind the profile knows (transformer, feeder, substation): left out
    assert [item["id"] for item in provider["items"]] == [
        "feeder:F-3:INCREASE",
        "transformer:TX-17:INCREASE",
        "transformer:TX-17:REDUCE",
    ]
    locations = {location["id"]: location for location in provider["locations"]}
    assert locations[TX17]["gps"] == "12.970000,77.590000" and locations[TX17]["area_code"] == "560001"
    assert "gps" in locations[F3] and "area_code" not in locations[F3]
    tags = {tag["descriptor"]["code"]: tag["value"] for tag in provider["items"][2]["tags"][0]["list"]}
    assert tags["device_types"] == "BATTERY,FLEXIBLE_LOAD"
    assert tags["reliability"] == "0.91"  # (0.95 + 0.95 + 0.85) / 3 = 0.916…, rounded down


async def test_the_offers_file_fills_in_the_default_headroom(session: AsyncSession, tmp_path: Path) -> None:
    path = write_offers(
        tmp_path / "offers.yaml",
        offer(TX17),
        {key: value for key, value in offer(F3, "INCREASE").items() if key != "reliability_headroom"},
    )
    loaded = await load_offers_file(session, path, default_headroom=Decimal("0.25"))

    assert {(terms.grid_node, terms.reliability_headroom) for terms in loaded} == {
        (TX17, Decimal(0)),
        (F3, Decimal("0.25")),
    }
