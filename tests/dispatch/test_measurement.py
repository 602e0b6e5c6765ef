"""Measuring an order from stored telemetry buckets (`bpp.dispatch.measurement`), on SQLite and PostgreSQL:
each device's baseline method is chosen from its own history and recorded, the order's figures are the
devices' sums, interval by interval, and the verdict is COMPLETED from 95 % of the committed energy."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bpp.dispatch.intervals import measured_span
from bpp.dispatch.measurement import UNAVAILABLE, measure
from bpp.dispatch.models import DeviceReading
from bpp.dispatch.progress import settlement_terms
from bpp.dispatch.readings import OrderDeviceRepository
from bpp.dispatch.repository import CommandRepository, PlanRepository
from bpp.orders import service as orders
from bpp.orders.requests import Window
from bpp.performance.delivery import OrderPerformance
from bpp.performance.settlement import Settlement, settle_order
from participant.app import unit_of_work
from tests.dispatch.factories import WINDOW, load_spec, planned_order, settings

QUARTER = timedelta(minutes=15)
DAY = timedelta(days=1)


def bucket(device_id: str, start: datetime, kw: str, samples: int = 3) -> DeviceReading:
    value = Decimal(kw)
    return DeviceReading(
        device_id=device_id,
        bucket_start=start,
        seconds=900,
        samples=samples,
        sum_kw=value * samples,
        min_kw=value,
        max_kw=value,
        last_ts=start + timedelta(minutes=14),
    )


def quarters(start: datetime, end: datetime) -> list[datetime]:
    return [start + k * QUARTER for k in range((end - start) // QUARTER)]


@pytest.fixture
async def measured_order(session_factory: async_sessionmaker[AsyncSession], database_url: str) -> str:
    """12 kW for WINDOW (1 h) on a, b, c (5, 5, 4.4 kW), every command sent, with this telemetry:

    a: 10 kW on each of the ten days before, over the event's hours and the two hours before them,
       and on the day itself until the start; 6 kW during the event;
    b: no history, 8 kW in the hour before the start, 5 kW during the event;
    c: nothing at all.
    """
    bpp = settings(database_url, report_interval=QUARTER)
    order_id = await planned_order(session_factory, bpp, devices=[load_spec(n) for n in "abc"], kw="12")
    readings = [
        bucket("a", moment - day * DAY, "10")
        for day in range(1, 11)
        for moment in quarters(WINDOW.start - 2 * QUARTER * 4, WINDOW.end)
    ]
    readings += [
        bucket("a", moment, "10") for moment in quarters(WINDOW.start - 2 * QUARTER * 4, WINDOW.start)
    ]
    readings += [bucket("a", moment, "6") for moment in quarters(WINDOW.start, WINDOW.end)]
    readings += [bucket("b", moment, "8") for moment in quarters(WINDOW.start - QUARTER * 4, WINDOW.start)]
    readings += [bucket("b", moment, "5") for moment in quarters(WINDOW.start, WINDOW.end)]
    async with unit_of_work(session_factory) as session:
        session.add_all(readings)
        rows = await CommandRepository(session).of_order(order_id)
        await CommandRepository(session).mark_published(
            [(row.id, n) for n, row in enumerate(rows)],
            worker_id="t",
            now=WINDOW.start - timedelta(minutes=5),
        )
    return order_id


async def test_each_device_gets_the_baseline_its_history_supports(
    session_factory: async_sessionmaker[AsyncSession], measured_order: str
) -> None:
    async with unit_of_work(session_factory) as session:
        order = await orders.get(session, measured_order)
        plan = await PlanRepository(session).get(measured_order)
        assert plan is not None
        measured = await measure(session, order, plan, now=WINDOW.end, final=True)
    assert measured is not None
    performance = measured.performance

    async with unit_of_work(session_factory) as session:
        devices = await OrderDeviceRepository(session).of_order(measured_order)
    methods = {device_id: row.baseline_method for device_id, row in devices.items()}
    assert methods == {"a": "X_OF_Y_10_10", "b": "METER_BEFORE_AFTER", "c": UNAVAILABLE}
    assert devices["a"].baseline_note == "X_OF_Y_10_10 with +0.0 % same-day adjustment (cap ±20.0 %)"
    assert devices["b"].baseline_note.startswith("METER_BEFORE_AFTER: only 0 eligible days of history")
    assert devices["c"].baseline_note.endswith(
        "no readings in the 4 intervals before the event; the device is not measured"
    )
    assert [(row.delivered_kw, row.delivered_kwh) for row in (devices["a"], devices["b"], devices["c"])] == [
        (Decimal("4"), Decimal("4")),
        (Decimal("3"), Decimal("3")),
        (None, None),
    ]
    assert devices["a"].actual_kw == ["6.000"] * 4 and devices["c"].actual_kw == [None] * 4

    # Per interval: baseline 10 + 8, actual 6 + 5 (c is not measured), 7 kW delivered for an hour.
    assert {(row.baseline_kw, row.actual_kw, row.delivered_kw) for row in performance.per_interval} == {
        (Decimal("18"), Decimal("11"), Decimal("7"))
    }
    assert (performance.delivered_kwh, performance.target_kwh, performance.state.value) == (
        Decimal("7"),
        Decimal("11.4"),
        "PARTIAL",
    )
    assert (performance.devices, performance.devices_acked, performance.unmeasured) == (3, 0, 4)
    assert performance.baseline_method is None  # the devices used different methods


async def test_progress_covers_the_intervals_that_have_ended(
    session_factory: async_sessionmaker[AsyncSession], measured_order: str
) -> None:
    async with unit_of_work(session_factory) as session:
        order = await orders.get(session, measured_order)
        plan = await PlanRepository(session).get(measured_order)
        assert plan is not None
        before = await measure(session, order, plan, now=WINDOW.start + timedelta(minutes=14), final=False)
        half = await measure(session, order, plan, now=WINDOW.start + timedelta(minutes=31), final=False)
    assert before is None
    assert half is not None and half.performance.intervals == 2
    assert half.performance.interval_end == WINDOW.start + 2 * QUARTER
    assert half.performance.delivered_kwh == Decimal("3.5")


def test_an_event_is_measured_on_the_whole_intervals_inside_its_window() -> None:
    start = WINDOW.start + timedelta(minutes=5)
    assert measured_span(start, start + timedelta(minutes=50), QUARTER) == (
        WINDOW.start + QUARTER,
        WINDOW.start + 3 * QUARTER,
    )
    assert measured_span(start, start + timedelta(minutes=10), QUARTER) is None
    assert measured_span(WINDOW.start, WINDOW.end, QUARTER) == (WINDOW.start, WINDOW.end)


# -- the verdict: COMPLETED from 95 % of the committed energy, PARTIAL below -----------------------------


async def sixty_kw_on_one_load(
    factory: async_sessionmaker[AsyncSession],
    database_url: str,
    window: Window,
    readings: list[DeviceReading],
) -> str:
    """60 kW committed for `window` on one load that can shed 80 kW (asked for 72), its command sent, and
    the load's telemetry buckets; no history before them, so its baseline is meter before/after."""
    bpp = settings(database_url, report_interval=QUARTER)
    big = load_spec("big", flex_kw="80", rated_kw=Decimal("100"))
    order_id = await planned_order(factory, bpp, devices=[big], kw="60", window=window)
    async with unit_of_work(factory) as session:
        session.add_all(readings)
        rows = await CommandRepository(session).of_order(order_id)
        await CommandRepository(session).mark_published(
            [(row.id, n) for n, row in enumerate(rows)],
            worker_id="t",
            now=window.start - timedelta(minutes=5),
        )
    return order_id


async def verdict(
    factory: async_sessionmaker[AsyncSession], order_id: str
) -> tuple[OrderPerformance, Settlement]:
    """The final measurement, and the settlement at the order's terms, as `progress.conclude` makes them."""
    async with unit_of_work(factory) as session:
        order = await orders.get(session, order_id)
        plan = await PlanRepository(session).get(order_id)
        assert plan is not None
        measured = await measure(session, order, plan, now=order.window_end, final=True)
        terms = settlement_terms(order)
    assert measured is not None
    return measured.performance, settle_order(measured.performance, terms)


@pytest.mark.parametrize(
    ("actual_kw", "delivered_kwh", "state", "shortfall_kwh"),
    [
        ("43", "57", "COMPLETED", "0"),  # 57 of 60 kW: 95 % exactly
        ("43.01", "56.992", "PARTIAL", "0.008"),  # 56.99 kW: 4 × 14.248 kWh, just short of 57
        ("40", "60", "COMPLETED", "0"),
        ("34", "60", "COMPLETED", "0"),  # 66 kW, the dispatcher's headroom: paid up to the 60 committed
        ("48.7", "51.3", "PARTIAL", "5.7"),  # 51.3 of 60 kW
    ],
)
async def test_an_order_is_completed_from_95_percent_of_its_commitment(
    session_factory: async_sessionmaker[AsyncSession],
    database_url: str,
    actual_kw: str,
    delivered_kwh: str,
    state: str,
    shortfall_kwh: str,
) -> None:
    readings = [bucket("big", moment, "100") for moment in quarters(WINDOW.start - 4 * QUARTER, WINDOW.start)]
    readings += [bucket("big", moment, actual_kw) for moment in quarters(WINDOW.start, WINDOW.end)]
    order_id = await sixty_kw_on_one_load(session_factory, database_url, WINDOW, readings)

    performance, settlement = await verdict(session_factory, order_id)

    assert (performance.committed_kwh, performance.target_kwh) == (Decimal("60"), Decimal("57"))
    assert performance.delivered_kwh == settlement.delivered_kwh == Decimal(delivered_kwh)
    assert performance.state.value == state
    # SETTLED tells the same: a shortfall exactly when the verdict was PARTIAL.
    assert settlement.shortfall_kwh == Decimal(shortfall_kwh)


async def test_a_window_off_the_grid_takes_no_baseline_from_the_interval_it_starts_in(
    session_factory: async_sessionmaker[AsyncSession], database_url: str
) -> None:
    """From 5 minutes before WINDOW to 5 after: measured on WINDOW's four quarters. The load drew 100 kW
    until the window started and sheds 60 kW from then on, so the quarter holding the start averages
    80 kW; as a baseline it would make 95 kW and the 60 kW delivered look like 55 (PARTIAL)."""
    window = Window(WINDOW.start - timedelta(minutes=5), WINDOW.end + timedelta(minutes=5))
    readings = [bucket("big", moment, "100") for moment in quarters(WINDOW.start - 4 * QUARTER, WINDOW.start)]
    readings[-1] = bucket("big", WINDOW.start - QUARTER, "80")
    readings += [bucket("big", moment, "40") for moment in quarters(WINDOW.start, WINDOW.end)]
    order_id = await sixty_kw_on_one_load(session_factory, database_url, window, readings)

    performance, settlement = await verdict(session_factory, order_id)

    assert (performance.interval_start, performance.interval_end) == (WINDOW.start, WINDOW.end)
    assert {(row.baseline_kw, row.delivered_kw) for row in performance.per_interval} == {
        (Decimal("100"), Decimal("60"))
    }
    assert (performance.state.value, settlement.shortfall_kwh) == ("COMPLETED", Decimal("0"))
