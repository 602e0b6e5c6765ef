"""Why a reservation could not be made or changed."""

from __future__ import annotations

from decimal import Decimal

from bpp.fleet.models import format_kw


class CapacityError(Exception):
    """Base of every capacity error."""


class CapacityUnavailable(CapacityError):
    """Fewer kW are free on the grid node over the window than were asked for."""

    def __init__(
        self,
        available_kw: Decimal,
        *,
        requested_kw: Decimal | None = None,
        grid_node: str = "",
        direction: str = "",
    ) -> None:
        where = f" on {grid_node} {direction}".rstrip() if grid_node else ""
        asked = f"; {format_kw(requested_kw)} kW requested" if requested_kw is not None else ""
        super().__init__(f"only {format_kw(available_kw)} kW available{where} over that window{asked}")
        self.available_kw = available_kw
        self.requested_kw = requested_kw
        self.grid_node = grid_node
        self.direction = direction


class ReservationNotFound(CapacityError):
    def __init__(self, reference: str) -> None:
        super().__init__(f"no reservation for {reference}")
        self.reference = reference


class InvalidReservation(CapacityError):
    """A request that no amount of capacity could satisfy: empty window, kW ≤ 0, released already."""
