"""Factories for the messages of one DEG flexibility transaction, built only from our public API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from schemas.core_v1 import (
    Action,
    BecknModel,
    Billing,
    CancellationTerm,
    CancelMessage,
    Catalog,
    Circle,
    ConfirmMessage,
    Context,
    Descriptor,
    Envelope,
    Fee,
    Fulfillment,
    FulfillmentState,
    InitMessage,
    Intent,
    Item,
    ItemQuantity,
    Location,
    OnCancelMessage,
    OnConfirmMessage,
    OnInitMessage,
    OnSearchMessage,
    OnSelectMessage,
    OnStatusMessage,
    OnUpdateMessage,
    Order,
    OrderStatus,
    Organization,
    Payment,
    PaymentStatus,
    PaymentType,
    Price,
    Provider,
    QuantityAmount,
    Quotation,
    QuotationBreakup,
    Scalar,
    SearchMessage,
    SelectMessage,
    StatusMessage,
    Stop,
    Time,
    TimeRange,
    UpdateMessage,
)
from schemas.profile import tag_group

DOMAIN = "deg:demand-flex"
BAP_ID = "utility.example.com"
BAP_URI = "https://utility.example.com/beckn"
BPP_ID = "aggregator.example.com"
BPP_URI = "https://aggregator.example.com/beckn"
GRID_NODE = "transformer:TX-17"
WINDOW_START = datetime(2026, 7, 14, 17, 0, tzinfo=UTC)
WINDOW_END = WINDOW_START + timedelta(hours=2)
ITEM_ID = "offer-tx17-reduce"
ORDER_ID = "order-0001"


def request_context(action: Action, transaction_id: str | None = None) -> Context:
    through_gateway = action is Action.SEARCH
    return Context.new(
        action=action,
        domain=DOMAIN,
        bap_id=BAP_ID,
        bap_uri=BAP_URI,
        bpp_id=None if through_gateway else BPP_ID,
        bpp_uri=None if through_gateway else BPP_URI,
        transaction_id=transaction_id,
        country="USA",
        city="std:415",
    )


def window() -> Time:
    return Time(range=TimeRange(start=WINDOW_START, end=WINDOW_END))


def grid_location() -> Location:
    return Location(id=GRID_NODE, circle=Circle(gps="37.7749,-122.4194", radius=Scalar(value="2", unit="km")))


def kilowatts(value: str) -> Scalar:
    return Scalar(value=value, unit="kW")


def offer_item() -> Item:
    return Item(
        id=ITEM_ID,
        descriptor=Descriptor(name="Evening peak reduction behind TX-17"),
        price=Price(currency="USD", value=Decimal("0.25")),
        quantity=ItemQuantity(available=QuantityAmount(measure=kilowatts("120"))),
        fulfillment_ids=["event"],
        tags=[
            tag_group(
                "flex_offer",
                {
                    "direction": "REDUCE",
                    "grid_node": GRID_NODE,
                    "min_kw": 10,
                    "max_kw": Decimal("120"),
                    "response_time": timedelta(minutes=5),
                    "max_duration": timedelta(hours=4),
                    "baseline_method": "X_OF_Y_10_10",
                    "reliability": 0.95,
                    "device_types": "BATTERY,EV_CHARGER",
                    "notice": timedelta(minutes=15),
                    "max_events_per_day": 2,
                },
            )
        ],
    )


def selected_item(kw: str = "80") -> Item:
    return Item(id=ITEM_ID, quantity=ItemQuantity(selected=QuantityAmount(measure=kilowatts(kw))))


def event_fulfillment(state: str | None = None) -> Fulfillment:
    return Fulfillment(
        id="event",
        type="DEMAND_FLEXIBILITY",
        stops=[Stop(type="event", location=grid_location(), time=window())],
        state=FulfillmentState(descriptor=Descriptor(code=state), updated_at=WINDOW_START) if state else None,
    )


def quote() -> Quotation:
    return Quotation(
        price=Price(currency="USD", value="40"),
        breakup=[
            QuotationBreakup(item=Item(id=ITEM_ID), title="80 kW x 2 h at 0.25/kWh", price=Price(value=40))
        ],
        ttl="PT15M",
    )


def billing() -> Billing:
    return Billing(name="Bay Utility", organization=Organization(descriptor=Descriptor(name="Bay Utility")))


def payment(status: PaymentStatus | None = None) -> Payment:
    return Payment(type=PaymentType.POST_FULFILLMENT, collected_by="BAP", status=status)


def draft_order() -> Order:
    return Order(
        provider=Provider(id="aggregator-1"), items=[selected_item()], fulfillments=[event_fulfillment()]
    )


def contracted_order(state: str, status: OrderStatus = OrderStatus.ACTIVE) -> Order:
    order = draft_order()
    order.id = ORDER_ID
    order.status = status
    order.fulfillments = [event_fulfillment(state)]
    order.quote = quote()
    order.billing = billing()
    order.payments = [payment(PaymentStatus.NOT_PAID)]
    order.cancellation_terms = [
        CancellationTerm(
            fulfillment_state=FulfillmentState(descriptor=Descriptor(code="SCHEDULED")),
            reason_required=False,
            cancellation_fee=Fee(percentage="0"),
        )
    ]
    order.created_at = WINDOW_START - timedelta(hours=3)
    order.updated_at = WINDOW_START
    order.tags = [
        tag_group(
            "commitment",
            {
                "committed_kw": "80",
                "devices": 42,
                "grid_node": GRID_NODE,
                "window_start": WINDOW_START,
                "window_end": WINDOW_END,
            },
        ),
        tag_group(
            "performance",
            {
                "baseline_kw": "310.5",
                "actual_kw": "228.1",
                "delivered_kw": Decimal("82.4"),
                "delivered_kwh": Decimal("164.8"),
                "devices_acked": 41,
                "devices_opted_out": 1,
                "intervals": 8,
                "baseline_method": "X_OF_Y_10_10",
                "interval_start": WINDOW_START,
                "interval_end": WINDOW_END,
            },
        ),
        tag_group(
            "settlement",
            {
                "delivered_kwh": "160",
                "rate_per_kwh": "0.25",
                "gross_amount": "40",
                "shortfall_kwh": "0",
                "penalty_amount": "0",
                "net_amount": "40",
                "currency": "USD",
            },
        ),
    ]
    return order


def message_for(action: Action) -> BecknModel:
    """A realistic message body for every action degflex implements, and for their callbacks."""
    flex_need = tag_group(
        "flex_need",
        {
            "direction": "REDUCE",
            "required_kw": 80,
            "min_notice": timedelta(minutes=30),
            "grid_node": GRID_NODE,
        },
    )
    bodies: dict[Action, BecknModel] = {
        Action.SEARCH: SearchMessage(
            intent=Intent(
                fulfillment=Fulfillment(stops=[Stop(location=grid_location(), time=window())]),
                tags=[flex_need],
            )
        ),
        Action.ON_SEARCH: OnSearchMessage(
            catalog=Catalog(
                descriptor=Descriptor(name="Aggregator flexibility"),
                providers=[
                    Provider(
                        id="aggregator-1",
                        descriptor=Descriptor(name="Bay Flex Aggregator"),
                        locations=[grid_location()],
                        fulfillments=[event_fulfillment()],
                        payments=[payment()],
                        items=[offer_item()],
                    )
                ],
            )
        ),
        Action.SELECT: SelectMessage(order=draft_order()),
        Action.ON_SELECT: OnSelectMessage(order=Order(items=[selected_item()], quote=quote())),
        Action.INIT: InitMessage(
            order=Order(items=[selected_item()], billing=billing(), payments=[payment()])
        ),
        Action.ON_INIT: OnInitMessage(order=contracted_order("PENDING")),
        Action.CONFIRM: ConfirmMessage(
            order=Order(items=[selected_item()], billing=billing(), payments=[payment()])
        ),
        Action.ON_CONFIRM: OnConfirmMessage(order=contracted_order("SCHEDULED")),
        Action.STATUS: StatusMessage(order_id=ORDER_ID),
        Action.ON_STATUS: OnStatusMessage(order=contracted_order("IN_PROGRESS")),
        Action.UPDATE: UpdateMessage(
            update_target="fulfillment", order=Order(id=ORDER_ID, fulfillments=[event_fulfillment()])
        ),
        Action.ON_UPDATE: OnUpdateMessage(order=contracted_order("SCHEDULED")),
        Action.CANCEL: CancelMessage(
            order_id=ORDER_ID,
            cancellation_reason_id="GRID_CONDITION_CLEARED",
            descriptor=Descriptor(name="cleared"),
        ),
        Action.ON_CANCEL: OnCancelMessage(order=contracted_order("CANCELLED", OrderStatus.CANCELLED)),
    }
    return bodies[action]


def envelope_for(action: Action) -> Envelope[BecknModel]:
    """The whole body: a request with a new context, or a callback answering one."""
    if action.is_callback:
        context = request_context(action.request).callback(bpp_id=BPP_ID, bpp_uri=BPP_URI)
    else:
        context = request_context(action)
    return Envelope[BecknModel](context=context, message=message_for(action))
