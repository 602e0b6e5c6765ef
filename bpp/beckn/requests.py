"""Reading Beckn requests into domain requests: liberal in what we accept, precise about what is wrong.

Every problem is a `Refusal` naming the path at fault. A search that can match nothing here (another
provider, an item id that is not ours, two different grid nodes) reads as None rather than an error.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from bpp.beckn.errors import Refusal, invalid
from bpp.catalog.items import parse_item_id
from bpp.catalog.query import Circle, FlexQuery, GeoPoint
from bpp.fleet.models import FlexDirection
from bpp.orders.requests import CancelRequest, FlexRequest, OrderChange, Window
from schemas.core_v1 import (
    CancelMessage,
    Fulfillment,
    Item,
    Location,
    Order,
    Scalar,
    SearchMessage,
    StatusMessage,
    TimeRange,
    UpdateMessage,
    parse_duration,
)
from schemas.errors import ErrorCode
from schemas.profile import profile_errors, read_tag_group

GRID_NODE = re.compile(r"^[a-z][a-z0-9_]*:[A-Za-z0-9][A-Za-z0-9._-]*$")
GPS = re.compile(r"^\s*([-+]?\d{1,2}(?:\.\d+)?)\s*,\s*([-+]?\d{1,3}(?:\.\d+)?)\s*$")
POWER_UNITS = {"kw": Decimal(1), "mw": Decimal(1000), "w": Decimal("0.001")}
DISTANCE_UNITS = {"m": 1.0, "km": 1000.0}

WINDOW_TARGETS = frozenset(
    {
        "order.fulfillments[0].stops",
        "order.fulfillments[0]",
        "order.fulfillments",
        "fulfillments",
        "fulfillment",
    }
)
QUANTITY_TARGETS = frozenset(
    {"order.items[0].quantity", "order.items[0]", "order.items", "items", "item", "quantity"}
)


# -- search ---------------------------------------------------------------------------------------------


def read_search(message: SearchMessage, *, provider_id: str) -> FlexQuery | None:
    """The flexibility asked for: `flex_need` tags, the event window and place from the fulfillment."""
    problems = profile_errors(message)
    if problems:
        raise invalid("; ".join(p.message for p in problems), ", ".join(p.paths for p in problems))
    intent = message.intent
    if intent is None:
        return FlexQuery()
    if intent.provider is not None and intent.provider.id and intent.provider.id != provider_id:
        return None
    item = None
    if intent.item is not None and intent.item.id:
        item = parse_item_id(intent.item.id)
        if item is None:
            return None
    need = read_tag_group(intent.tags, "flex_need") or {}
    grid_node = need.get("grid_node")
    window: Window | None = None
    area_code: str | None = None
    circle: Circle | None = None
    stops = intent.fulfillment.stops if intent.fulfillment is not None else None
    for index, stop in enumerate(stops or []):
        path = f"message.intent.fulfillment.stops[{index}]"
        if window is None and stop.time is not None and stop.time.range is not None:
            window = read_window(stop.time.range, f"{path}.time.range")
        if stop.location is not None:
            node = location_grid_node(stop.location)
            if node is not None and grid_node is not None and node != grid_node:
                return None
            grid_node = grid_node or node
            area_code = area_code or stop.location.area_code
            if stop.location.circle is not None and circle is None:
                circle = read_circle(stop.location, f"{path}.location.circle")
    return FlexQuery(
        grid_node=grid_node,
        direction=FlexDirection(need["direction"]) if "direction" in need else None,
        required_kw=Decimal(need["required_kw"]) if "required_kw" in need else None,
        min_notice=parse_duration(need["min_notice"]) if "min_notice" in need else None,
        window=window,
        area_code=area_code,
        circle=circle,
        item=item,
    )


def location_grid_node(location: Location) -> str | None:
    """A grid node named by a location's id or descriptor code (`transformer:TX-17`)."""
    for candidate in (location.id, location.descriptor.code if location.descriptor else None):
        if candidate and GRID_NODE.match(candidate):
            return candidate
    return None


def read_circle(location: Location, path: str) -> Circle:
    circle = location.circle
    assert circle is not None
    match = GPS.match(circle.gps or "")
    if match is None:
        raise invalid(f"circle.gps must be 'latitude,longitude', not {circle.gps!r}", f"{path}.gps")
    latitude, longitude = float(match[1]), float(match[2])
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise invalid(f"circle.gps {circle.gps!r} is not on Earth", f"{path}.gps")
    radius = circle.radius
    unit = (radius.unit or "").strip().lower() if radius is not None else ""
    if radius is None or radius.value is None or unit not in DISTANCE_UNITS:
        raise invalid("circle.radius needs a value and a unit, m or km", f"{path}.radius")
    value = _decimal(radius.value, f"{path}.radius.value")
    if value <= 0:
        raise invalid("circle.radius must be positive", f"{path}.radius.value")
    return Circle(GeoPoint(latitude, longitude), float(value) * DISTANCE_UNITS[unit])


def read_window(time_range: TimeRange, path: str) -> Window:
    if time_range.start is None or time_range.end is None:
        raise invalid("a time range needs start and end", path)
    if time_range.end <= time_range.start:
        raise invalid("the event window ends before it starts", f"{path}.end")
    return Window(time_range.start, time_range.end)


# -- select, init, confirm ------------------------------------------------------------------------------


def read_order(order: Order, *, provider_id: str) -> FlexRequest:
    """One item of our provider, with the kW (`quantity.selected.measure`) and window when given."""
    provider = order.provider.id if order.provider is not None else None
    if provider and provider != provider_id:
        raise Refusal(
            ErrorCode.PROVIDER_NOT_FOUND,
            f"provider {provider!r} is not served here; this aggregator is {provider_id!r}",
            paths="message.order.provider.id",
        )
    items = order.items or []
    if len(items) != 1:
        raise invalid(
            "an order holds exactly one item (one grid node and direction); send one order per item",
            "message.order.items",
        )
    item = items[0]
    if not item.id:
        raise invalid("the item has no id", "message.order.items[0].id")
    offer = parse_item_id(item.id)
    if offer is None:
        raise Refusal(
            ErrorCode.ITEM_NOT_FOUND,
            f"item {item.id!r} is not offered here",
            paths="message.order.items[0].id",
        )
    return FlexRequest(
        item_id=item.id,
        offer=offer,
        kw=read_kw(item, "message.order.items[0]"),
        window=order_window(order.fulfillments),
        billing=order.billing.dump() if order.billing is not None else None,
    )


def read_kw(item: Item, path: str) -> Decimal | None:
    """The selected power in kW (W and MW converted), or None when the item does not say."""
    selected = item.quantity.selected if item.quantity is not None else None
    measure: Scalar | None = selected.measure if selected is not None else None
    if measure is None or measure.value is None:
        return None
    where = f"{path}.quantity.selected.measure"
    unit = (measure.unit or "").strip().lower()
    if unit not in POWER_UNITS:
        raise invalid(f"quantity unit must be kW (or W, MW), not {measure.unit!r}", f"{where}.unit")
    kw = _decimal(measure.value, f"{where}.value") * POWER_UNITS[unit]
    if kw <= 0:
        raise invalid("the quantity must be more than 0 kW", f"{where}.value")
    return kw


def order_window(fulfillments: list[Fulfillment] | None) -> Window | None:
    """The first stop's time range of the order's fulfillments: the event window."""
    for f_index, fulfillment in enumerate(fulfillments or []):
        for s_index, stop in enumerate(fulfillment.stops or []):
            if stop.time is not None and stop.time.range is not None:
                path = f"message.order.fulfillments[{f_index}].stops[{s_index}].time.range"
                return read_window(stop.time.range, path)
    return None


# -- status, update, cancel -----------------------------------------------------------------------------


def read_status(message: StatusMessage) -> str:
    order_id = message.order_id or message.ref_id
    assert order_id is not None, "StatusMessage requires one of them"
    return order_id


def read_update(message: UpdateMessage) -> tuple[str, OrderChange]:
    """`update_target` names what changes: the window (fulfillment stops), the kW (item quantity), or both."""
    targets = {target.strip() for target in message.update_target.split(",") if target.strip()}
    unknown = sorted(targets - WINDOW_TARGETS - QUANTITY_TARGETS)
    if not targets or unknown:
        raise Refusal(
            ErrorCode.INVALID_UPDATE_TARGET,
            f"cannot update {', '.join(unknown) or 'nothing'}: update_target is "
            "order.fulfillments[0].stops (the window) and/or order.items[0].quantity (the kW)",
            paths="message.update_target",
        )
    order = message.order
    if not order.id:
        raise invalid("say which order: message.order.id", "message.order.id")
    kw = window = None
    if targets & QUANTITY_TARGETS:
        items = order.items or []
        kw = read_kw(items[0], "message.order.items[0]") if items else None
        if kw is None:
            raise invalid("the new quantity is missing", "message.order.items[0].quantity.selected.measure")
    if targets & WINDOW_TARGETS:
        window = order_window(order.fulfillments)
        if window is None:
            raise invalid("the new window is missing", "message.order.fulfillments[0].stops[0].time.range")
    return order.id, OrderChange(kw=kw, window=window)


def read_cancel(message: CancelMessage) -> tuple[str, CancelRequest]:
    descriptor = message.descriptor
    description = (descriptor.short_desc or descriptor.name) if descriptor is not None else None
    return message.order_id, CancelRequest(reason_id=message.cancellation_reason_id, description=description)


def _decimal(text: str, path: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise invalid(f"{text!r} is not a number", path) from None
    if not value.is_finite():
        raise invalid(f"{text!r} is not a number", path)
    return value
