"""The demo's phases as the utility sees them, fed by the BAP console's frames (docs/websocket.md).

`Tracker` is pure bookkeeping (frames in, phase states out) so it can be tested without a network;
`phases_view` and `phase_line` render it for the live table and for plain output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

Frame = dict[str, Any]


class Status(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    UNAVAILABLE = "not available in this build"


class Phase(StrEnum):
    NETWORK = "network"
    ALERT = "grid alert"
    DISCOVERY = "discovery"
    RECOMMENDATION = "recommendation"
    APPROVAL = "approval"
    ORDERS = "orders"
    DISPATCH = "dispatch"
    ACKS = "acknowledgements"
    DELIVERY = "delivery"
    SETTLEMENT = "settlement"


AFTER_CONFIRMATION = (Phase.DISPATCH, Phase.ACKS, Phase.DELIVERY, Phase.SETTLEMENT)
DISPATCHED_STATES = {"DISPATCHED", "IN_PROGRESS", "COMPLETED", "PARTIAL", "SETTLED"}
DELIVERED_STATES = {"COMPLETED", "PARTIAL", "SETTLED"}
ENDED_ORDER_STATES = {"FAILED", "CANCELLED"}


@dataclass
class PhaseState:
    phase: Phase
    status: Status = Status.PENDING
    detail: str = ""
    done: Decimal | None = None
    total: Decimal | None = None


@dataclass
class OrderView:
    """One order as the console last showed it."""

    aggregator_id: str
    state: str = ""
    fulfillment_state: str | None = None
    requested_kw: Decimal = Decimal(0)
    committed_kw: Decimal | None = None
    delivered_kw: Decimal | None = None
    devices: int | None = None
    devices_acked: int | None = None
    devices_opted_out: int | None = None
    settlement: dict[str, Any] | None = None

    @property
    def settled(self) -> bool:
        """A settlement reached the utility (its fulfillment state may lag behind if reports crossed)."""
        return bool(self.settlement) or self.fulfillment_state == "SETTLED"


def _decimal(value: object) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))


def _kw(value: Decimal | None) -> str:
    return "–" if value is None else f"{value.normalize():f} kW"


@dataclass
class Tracker:
    """Phase states from console frames; `event_id` is the demo's event once the alert opened it."""

    aggregators: int
    dispatch_available: bool
    phases: dict[Phase, PhaseState] = field(default_factory=dict)
    event_id: str | None = None
    orders: dict[str, OrderView] = field(default_factory=dict)
    answered: set[str] = field(default_factory=set)
    recommendation: Frame | None = None
    completed: Frame | None = None
    failure: str | None = None

    def __post_init__(self) -> None:
        self.phases = {phase: PhaseState(phase) for phase in Phase}
        if not self.dispatch_available:
            for phase in AFTER_CONFIRMATION:
                self.phases[phase].status = Status.UNAVAILABLE

    # -- changes made by the scenario -----------------------------------------------------------------

    def set(self, phase: Phase, status: Status, detail: str | None = None) -> None:
        state = self.phases[phase]
        if state.status is Status.UNAVAILABLE:
            return
        state.status = status
        if detail is not None:
            state.detail = detail

    def fail(self, phase: Phase, reason: str) -> None:
        self.set(phase, Status.FAILED, reason)
        self.failure = self.failure or f"{phase}: {reason}"

    # -- frames ----------------------------------------------------------------------------------------

    def apply(self, frame: Frame) -> None:
        """Update the phases from one console frame (frames of other events are ignored)."""
        kind, data = frame.get("type"), frame.get("data") or {}
        if self.event_id is not None and data.get("event_id") not in (None, self.event_id):
            return
        handler = {
            "options": self._options,
            "recommendation": self._recommendation,
            "progress": self._progress,
            "participation": self._participation,
            "completed": self._completed,
            "alert": self._alert,
            "error": self._error,
        }.get(str(kind))
        if handler is not None:
            handler(data)

    def _options(self, data: Frame) -> None:
        self.answered.add(str(data.get("from_aggregator")))
        offers = data.get("offers") or []
        kw = sum((Decimal(str(offer.get("available_kw", 0))) for offer in offers), Decimal(0))
        state = self.phases[Phase.DISCOVERY]
        state.done, state.total = Decimal(len(self.answered)), Decimal(self.aggregators)
        self.set(
            Phase.DISCOVERY,
            Status.RUNNING,
            f"{len(self.answered)}/{self.aggregators} aggregators answered; {len(offers)} offers, {_kw(kw)}",
        )

    def _recommendation(self, data: Frame) -> None:
        self.recommendation = data
        if self.phases[Phase.DISCOVERY].status is not Status.DONE:
            self.set(Phase.DISCOVERY, Status.DONE)
        selections = data.get("selections") or []
        takes = ", ".join(f"{s['aggregator_id']} {s['kw']} kW @ {s['price_per_kwh']}" for s in selections)
        gap = _decimal(data.get("gap_kw")) or Decimal(0)
        detail = f"{takes or 'nothing'}; cost {data.get('cost')}" + (f"; short by {gap} kW" if gap else "")
        self.set(Phase.RECOMMENDATION, Status.DONE, detail)
        if data.get("requires_approval"):
            self.set(Phase.APPROVAL, Status.RUNNING, "waiting for 'yes, proceed'")
        elif data.get("state") == "DECLINED":
            self.fail(Phase.APPROVAL, "declined")
        else:
            self.set(Phase.APPROVAL, Status.DONE, "approved by policy")

    def _progress(self, data: Frame) -> None:
        order_id = str(data.get("order_id"))
        view = self.orders.setdefault(order_id, OrderView(str(data.get("aggregator_id"))))
        view.state = str(data.get("state"))
        view.fulfillment_state = data.get("fulfillment_state")
        view.requested_kw = _decimal(data.get("requested_kw")) or Decimal(0)
        view.committed_kw = _decimal(data.get("committed_kw"))
        view.delivered_kw = _decimal(data.get("delivered_kw"))
        view.settlement = data.get("settlement") or view.settlement
        if self.phases[Phase.APPROVAL].status is Status.RUNNING:
            self.set(Phase.APPROVAL, Status.DONE, "approved")
        self._orders_phase()
        self._after_confirmation()

    def _participation(self, data: Frame) -> None:
        view = self.orders.get(str(data.get("order_id")))
        if view is None:
            return
        view.devices = data.get("devices")
        view.devices_acked = data.get("devices_acked")
        view.devices_opted_out = data.get("devices_opted_out")
        self._after_confirmation()

    def _completed(self, data: Frame) -> None:
        self.completed = data
        self._after_confirmation()

    def _alert(self, data: Frame) -> None:
        if data.get("kind") in ("no_options",):
            self.fail(Phase.DISCOVERY, str(data.get("message")))

    def _error(self, data: Frame) -> None:
        if data.get("code") == "activation_failed":
            self.fail(Phase.ORDERS, str(data.get("message")))

    # -- derived phases --------------------------------------------------------------------------------

    def live_orders(self) -> list[OrderView]:
        return [view for view in self.orders.values() if view.state not in ENDED_ORDER_STATES]

    def _orders_phase(self) -> None:
        live = self.live_orders()
        confirmed = [view for view in live if view.state in ("ACTIVE", "COMPLETED")]
        committed = sum((view.committed_kw or Decimal(0) for view in confirmed), Decimal(0))
        failed = len(self.orders) - len(live)
        state = self.phases[Phase.ORDERS]
        state.done, state.total = Decimal(len(confirmed)), Decimal(len(live) or 1)
        detail = f"{len(confirmed)}/{len(live)} confirmed, {_kw(committed)} committed"
        if failed:
            detail += f" ({failed} failed over to other offers)"
        done = bool(live) and len(confirmed) == len(live)
        self.set(Phase.ORDERS, Status.DONE if done else Status.RUNNING, detail)

    def _after_confirmation(self) -> None:
        if not self.dispatch_available:
            return
        live = [view for view in self.live_orders() if view.committed_kw is not None]
        if not live:
            return
        self._count(Phase.DISPATCH, live, lambda v: v.fulfillment_state in DISPATCHED_STATES, "dispatched")
        finished = all(view.fulfillment_state in DELIVERED_STATES or view.settled for view in live)
        acked = sum(view.devices_acked or 0 for view in live)
        opted_out = sum(view.devices_opted_out or 0 for view in live)
        if acked or opted_out:
            status = Status.DONE if finished else Status.RUNNING
            self.set(Phase.ACKS, status, f"{acked} devices acked, {opted_out} opted out")
        committed = sum((view.committed_kw or Decimal(0) for view in live), Decimal(0))
        delivered = sum((view.delivered_kw or Decimal(0) for view in live), Decimal(0))
        if any(view.delivered_kw is not None for view in live):
            state = self.phases[Phase.DELIVERY]
            state.done, state.total = max(delivered, Decimal(0)), committed or Decimal(1)
            status = Status.DONE if finished else Status.RUNNING
            self.set(Phase.DELIVERY, status, f"{_kw(delivered)} of {_kw(committed)} committed")
        self._count(Phase.SETTLEMENT, live, lambda v: v.settled, "settled")

    def _count(self, phase: Phase, live: list[OrderView], test: Any, word: str) -> None:
        count = sum(1 for view in live if test(view))
        if not count:
            return
        state = self.phases[phase]
        state.done, state.total = Decimal(count), Decimal(len(live))
        self.set(phase, Status.DONE if count == len(live) else Status.RUNNING, f"{count}/{len(live)} {word}")

    @property
    def settled(self) -> bool:
        live = self.live_orders()
        return bool(live) and all(view.settled for view in live)

    @property
    def confirmed(self) -> bool:
        return self.phases[Phase.ORDERS].status is Status.DONE


SYMBOLS = {
    Status.PENDING: "·",
    Status.RUNNING: "…",
    Status.DONE: "✓",
    Status.FAILED: "✗",
    Status.UNAVAILABLE: "–",
}


def phase_line(state: PhaseState) -> str:
    """`✓ discovery          3/3 aggregators answered; …` for plain output."""
    detail = state.detail if state.status is not Status.UNAVAILABLE else str(Status.UNAVAILABLE)
    return f"{SYMBOLS[state.status]} {str(state.phase).ljust(17)} {detail}".rstrip()
