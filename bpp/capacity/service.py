"""How many kW a grid node can still promise, and reservations that never promise the same kW twice.

available = controllable × (1 − reliability headroom) − the peak of live HELD + COMMITTED kW at any instant
of the window. A hold is live until its `expires_at`, compared with `now` whenever availability is read:
an expired hold stops counting without anything having to run. Every change that can raise a node's load
(reserve, which also places and refreshes holds, and resize) first takes the node's lock row
(`ReservationRepository.lock_grid_node`) and only then reads, so two replicas racing for the last kW of a
node are served one after the other and the second sees the first. Services flush; callers commit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_CEILING, Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from bpp.capacity.errors import CapacityUnavailable, InvalidReservation, ReservationNotFound
from bpp.capacity.models import Reservation, ReservationStatus
from bpp.capacity.repository import ReservationRepository
from bpp.capacity.rules import WATT, ZERO, device_kw, load_at, peak_kw, sellable_kw
from bpp.fleet.models import FlexDirection, kinds_serving
from bpp.fleet.repository import DerRepository
from bpp.offers.models import DEFAULT_HEADROOM
from bpp.offers.repository import OfferTermsRepository
from bpp.offers.service import reliability_headroom
from participant.db import utcnow

GRID_NODE_MAX = 128
REFERENCE_MAX = 255


@dataclass(frozen=True)
class NodeCapacity:
    """One grid node and direction at one instant, for operators and the catalog."""

    grid_node: str
    direction: FlexDirection
    controllable_kw: Decimal
    committed_kw: Decimal
    held_kw: Decimal
    available_kw: Decimal


async def controllable_kw(
    session: AsyncSession,
    grid_node: str,
    direction: FlexDirection,
    at: datetime,
    until: datetime | None = None,
) -> Decimal:
    """Sum over ONLINE devices on the node of what each can do in `direction` over [at, until).

    Device status and state of charge are as last reported (there is no forecast); batteries are
    limited by the energy they hold over the window's length (see `bpp.capacity.rules`).
    """
    duration = until - at if until is not None else None
    devices = await DerRepository(session).online(grid_node=grid_node, kinds=kinds_serving(direction))
    return sum((device_kw(der, direction, duration) for der in devices), ZERO)


async def available_kw(
    session: AsyncSession,
    grid_node: str,
    direction: FlexDirection,
    window_start: datetime,
    window_end: datetime,
    *,
    exclude_reservation_id: str | None = None,
    now: datetime | None = None,
) -> Decimal:
    """kW that can still be promised on the node for the whole window (never negative), counting the
    reservations live at `now` (default: the clock)."""
    controllable = await controllable_kw(session, grid_node, direction, window_start, window_end)
    headroom = await reliability_headroom(session, grid_node, direction)
    reservations = await ReservationRepository(session).active_overlapping(
        grid_node,
        direction,
        window_start,
        window_end,
        now=now or utcnow(),
        exclude_id=exclude_reservation_id,
    )
    peak = peak_kw(((r.window_start, r.window_end, r.kw) for r in reservations), window_start, window_end)
    return max(ZERO, sellable_kw(controllable, headroom) - peak)


async def reserve(
    session: AsyncSession,
    *,
    grid_node: str,
    direction: FlexDirection,
    kw: Decimal,
    window_start: datetime,
    window_end: datetime,
    holder: str,
    order_id: str | None = None,
    status: ReservationStatus = ReservationStatus.COMMITTED,
    expires_at: datetime | None = None,
    replacing: str | None = None,
    now: datetime | None = None,
) -> Reservation:
    """Set `kw` aside on the node for the window, or raise CapacityUnavailable(available_kw).

    A HELD reservation may expire (`expires_at`), after which it no longer counts; `now` (default: the
    clock) decides which holds still do. `replacing` names a hold on the same node and direction whose kW
    count as free for this reservation, which then takes its place under the same id: how a buyer's hold
    is refreshed, or turned into a commitment.
    """
    if status is ReservationStatus.RELEASED:
        raise InvalidReservation("a new reservation is HELD or COMMITTED, not RELEASED")
    if not 0 < len(grid_node) <= GRID_NODE_MAX:
        raise InvalidReservation(f"a grid node is 1 to {GRID_NODE_MAX} characters")
    if not 0 < len(holder) <= REFERENCE_MAX or (
        order_id is not None and not 0 < len(order_id) <= REFERENCE_MAX
    ):
        raise InvalidReservation(f"holder and order_id are 1 to {REFERENCE_MAX} characters")
    kw = _checked(kw, window_start, window_end)
    now = now or utcnow()
    _check_expiry(status, expires_at, now)
    repository = ReservationRepository(session)
    await repository.lock_grid_node(grid_node)
    replaced = await _replaced(repository, replacing, grid_node, direction) if replacing else None
    available = await available_kw(
        session, grid_node, direction, window_start, window_end, exclude_reservation_id=replacing, now=now
    )
    if kw > available:
        raise CapacityUnavailable(available, requested_kw=kw, grid_node=grid_node, direction=direction)
    values = {
        "kw": kw,
        "window_start": window_start,
        "window_end": window_end,
        "status": status,
        "expires_at": expires_at,
        "order_id": order_id,
        "holder": holder,
    }
    if replaced is None:
        return await repository.add(Reservation(grid_node=grid_node, direction=direction, **values))
    for name, value in values.items():
        setattr(replaced, name, value)
    await repository.flush()
    return replaced


async def confirm_hold(
    session: AsyncSession,
    reservation_id: str,
    *,
    order_id: str | None = None,
    now: datetime | None = None,
) -> Reservation:
    """HELD → COMMITTED, checked again under the node's lock with the hold's own kW counted as free: a
    live hold passes (unless the fleet itself shrank below it), an expired one only if its kW are still
    free. Committing twice changes nothing."""
    reservation = await _get(ReservationRepository(session), reservation_id)
    if reservation.status is ReservationStatus.COMMITTED:
        return reservation
    if reservation.status is ReservationStatus.RELEASED:
        raise InvalidReservation(f"reservation {reservation_id} was released and cannot be committed")
    return await reserve(
        session,
        grid_node=reservation.grid_node,
        direction=reservation.direction,
        kw=reservation.kw,
        window_start=reservation.window_start,
        window_end=reservation.window_end,
        holder=reservation.holder,
        order_id=order_id or reservation.order_id,
        replacing=reservation.id,
        now=now,
    )


async def release(
    session: AsyncSession,
    *,
    reservation_id: str | None = None,
    order_id: str | None = None,
    now: datetime | None = None,
) -> list[Reservation]:
    """Give back one reservation, or every reservation of an order; releasing twice changes nothing.

    No lock is needed: freeing kW can never over-promise a node.
    """
    if (reservation_id is None) == (order_id is None):
        raise InvalidReservation("release takes exactly one of reservation_id or order_id")
    repository = ReservationRepository(session)
    if reservation_id is not None:
        reservations = [await _get(repository, reservation_id)]
    else:
        assert order_id is not None
        reservations = list(await repository.for_order(order_id))
        if not reservations:
            raise ReservationNotFound(f"order {order_id}")
    released_at = now or utcnow()
    for reservation in reservations:
        if reservation.status is not ReservationStatus.RELEASED:
            reservation.status = ReservationStatus.RELEASED
            reservation.released_at = released_at
    await repository.flush()
    return reservations


async def resize(
    session: AsyncSession,
    reservation_id: str,
    *,
    kw: Decimal | None = None,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    now: datetime | None = None,
) -> Reservation:
    """Change the kW or window of a live reservation, re-checked against availability excluding itself.

    A change that only shrinks (fewer kW, a window inside the old one) is always allowed, even when the
    node has since lost devices: refusing it would keep more load promised, not less.
    """
    repository = ReservationRepository(session)
    reservation = await _get(repository, reservation_id)
    await repository.lock_grid_node(reservation.grid_node)
    reservation = await _get(repository, reservation_id)  # re-read under the lock
    if reservation.status is ReservationStatus.RELEASED:
        raise InvalidReservation(f"reservation {reservation_id} was released and cannot change")
    new_start = window_start if window_start is not None else reservation.window_start
    new_end = window_end if window_end is not None else reservation.window_end
    new_kw = _checked(kw if kw is not None else reservation.kw, new_start, new_end)
    shrinks = (
        new_kw <= reservation.kw
        and new_start >= reservation.window_start
        and new_end <= reservation.window_end
    )
    if not shrinks:
        available = await available_kw(
            session,
            reservation.grid_node,
            reservation.direction,
            new_start,
            new_end,
            exclude_reservation_id=reservation.id,
            now=now,
        )
        if new_kw > available:
            raise CapacityUnavailable(
                available,
                requested_kw=new_kw,
                grid_node=reservation.grid_node,
                direction=reservation.direction,
            )
    reservation.kw, reservation.window_start, reservation.window_end = new_kw, new_start, new_end
    await repository.flush()
    return reservation


async def events_on_day(
    session: AsyncSession,
    grid_node: str,
    direction: FlexDirection,
    day: date,
    *,
    now: datetime | None = None,
    exclude_reservation_id: str | None = None,
) -> int:
    """Live reservations on the node starting on that UTC day (for max_events_per_day)."""
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return await ReservationRepository(session).count_starting(
        grid_node,
        direction,
        start,
        start + timedelta(days=1),
        now=now or utcnow(),
        exclude_id=exclude_reservation_id,
    )


async def node_summary(
    session: AsyncSession, at: datetime | None = None, *, now: datetime | None = None
) -> list[NodeCapacity]:
    """Per grid node and direction that has devices, terms or reservations: the picture at the instant
    `at` (default now), counting the holds still live now, whatever instant is looked at."""
    now = now or utcnow()
    at = at or now
    controllable: dict[tuple[str, FlexDirection], Decimal] = defaultdict(lambda: ZERO)
    for der in await DerRepository(session).online():
        for direction in der.serves:
            controllable[(der.grid_node, direction)] += device_kw(der, direction)
    headroom = {
        (terms.grid_node, terms.direction): terms.reliability_headroom
        for terms in await OfferTermsRepository(session).search()
    }
    reserved: dict[tuple[str, FlexDirection, ReservationStatus], list[Reservation]] = defaultdict(list)
    for reservation in await ReservationRepository(session).active_at(at, now=now):
        reserved[(reservation.grid_node, reservation.direction, reservation.status)].append(reservation)
    keys = set(controllable) | set(headroom) | {(node, direction) for node, direction, _ in reserved}
    summary: list[NodeCapacity] = []
    for grid_node, direction in sorted(keys):
        committed = _load(reserved[(grid_node, direction, ReservationStatus.COMMITTED)], at)
        held = _load(reserved[(grid_node, direction, ReservationStatus.HELD)], at)
        total = controllable[(grid_node, direction)]
        sellable = sellable_kw(total, headroom.get((grid_node, direction), DEFAULT_HEADROOM))
        summary.append(
            NodeCapacity(grid_node, direction, total, committed, held, max(ZERO, sellable - committed - held))
        )
    return summary


def _load(reservations: Sequence[Reservation], at: datetime) -> Decimal:
    return load_at(((r.window_start, r.window_end, r.kw) for r in reservations), at)


def _checked(kw: Decimal, window_start: datetime, window_end: datetime) -> Decimal:
    """kW rounded up to the watt (a reservation covers all that was asked); window aware and not empty."""
    if not kw.is_finite() or kw <= 0:
        raise InvalidReservation(f"{kw} kW is not a quantity that can be reserved")
    if window_start.tzinfo is None or window_end.tzinfo is None:
        raise InvalidReservation("reservation windows need timezone-aware times")
    if window_end <= window_start:
        raise InvalidReservation("the reservation window ends before it starts")
    return kw.quantize(WATT, rounding=ROUND_CEILING)


def _check_expiry(status: ReservationStatus, expires_at: datetime | None, now: datetime) -> None:
    if expires_at is None:
        return
    if status is not ReservationStatus.HELD:
        raise InvalidReservation("only a HELD reservation expires")
    if expires_at.tzinfo is None:
        raise InvalidReservation("a hold's expiry needs a timezone-aware time")
    if expires_at <= now:
        raise InvalidReservation("a hold must expire after it is made")


async def _replaced(
    repository: ReservationRepository, reservation_id: str, grid_node: str, direction: FlexDirection
) -> Reservation:
    """The hold a new reservation takes the place of, read again under the node's lock."""
    reservation = await _get(repository, reservation_id)
    if reservation.status is not ReservationStatus.HELD:
        raise InvalidReservation(f"reservation {reservation_id} is {reservation.status}, no longer a hold")
    if (reservation.grid_node, reservation.direction) != (grid_node, direction):
        raise InvalidReservation(
            f"reservation {reservation_id} holds {reservation.grid_node} {reservation.direction}, "
            f"not {grid_node} {direction}"
        )
    return reservation


async def _get(repository: ReservationRepository, reservation_id: str) -> Reservation:
    reservation = await repository.get(reservation_id)
    if reservation is None:
        raise ReservationNotFound(f"reservation {reservation_id}")
    return reservation
