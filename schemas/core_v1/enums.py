"""Enumerations the spec fixes, and the field types that accept other values from peers.

Each `…Field` keeps an unknown string sent by a peer (real DEG payloads use their own order types
and states) but is left out of what we send, so our messages stay valid against `transaction.yaml`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from schemas.core_v1.base import SpecEnum


class OrderStatus(StrEnum):
    ACTIVE = "ACTIVE"
    COMPLETE = "COMPLETE"
    CANCELLED = "CANCELLED"


class OrderType(StrEnum):
    DRAFT = "DRAFT"
    DEFAULT = "DEFAULT"


class PaymentType(StrEnum):
    PRE_ORDER = "PRE-ORDER"
    PRE_FULFILLMENT = "PRE-FULFILLMENT"
    ON_FULFILLMENT = "ON-FULFILLMENT"
    POST_FULFILLMENT = "POST-FULFILLMENT"


class PaymentStatus(StrEnum):
    PAID = "PAID"
    NOT_PAID = "NOT-PAID"


class ScalarType(StrEnum):
    CONSTANT = "CONSTANT"
    VARIABLE = "VARIABLE"


class ImageSize(StrEnum):
    XS = "xs"
    SM = "sm"
    MD = "md"
    LG = "lg"
    XL = "xl"
    CUSTOM = "custom"


class ContentType(StrEnum):
    TEXT = "text/plain"
    HTML = "text/html"
    JSON = "application/json"


class FormMimeType(StrEnum):
    HTML = "text/html"
    XML = "application/xml"


class Party(StrEnum):
    """Who cancelled an order, or who manages a return."""

    CONSUMER = "CONSUMER"
    PROVIDER = "PROVIDER"


class RatingCategory(StrEnum):
    ITEM = "Item"
    ORDER = "Order"
    FULFILLMENT = "Fulfillment"
    PROVIDER = "Provider"
    AGENT = "Agent"
    SUPPORT = "Support"


class TrackingStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"


OrderStatusField = Annotated[OrderStatus | str | None, SpecEnum(OrderStatus)]
OrderTypeField = Annotated[OrderType | str | None, SpecEnum(OrderType)]
PaymentTypeField = Annotated[PaymentType | str | None, SpecEnum(PaymentType)]
PaymentStatusField = Annotated[PaymentStatus | str | None, SpecEnum(PaymentStatus)]
ScalarTypeField = Annotated[ScalarType | str | None, SpecEnum(ScalarType)]
ImageSizeField = Annotated[ImageSize | str | None, SpecEnum(ImageSize)]
ContentTypeField = Annotated[ContentType | str | None, SpecEnum(ContentType)]
FormMimeTypeField = Annotated[FormMimeType | str | None, SpecEnum(FormMimeType)]
PartyField = Annotated[Party | str | None, SpecEnum(Party)]
RatingCategoryField = Annotated[RatingCategory | str | None, SpecEnum(RatingCategory)]
TrackingStatusField = Annotated[TrackingStatus | str | None, SpecEnum(TrackingStatus)]
