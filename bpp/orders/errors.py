"""Why an order request was refused, each with the Beckn error code it is answered with.

The code travels with the error so that a handler answers it as a NACK or a callback `error` without a
lookup table of its own; `docs/bpp.md` lists every code and when it is used.
"""

from __future__ import annotations

from enum import StrEnum

from schemas.errors import ErrorCode


class Field(StrEnum):
    """The part of a request at fault; the Beckn layer turns it into `error.paths`."""

    PROVIDER = "provider"
    ITEM = "item"
    QUANTITY = "quantity"
    WINDOW = "window"
    ORDER_ID = "order_id"
    UPDATE_TARGET = "update_target"


class OrderError(Exception):
    """Base of every refusal: a message for people, the code for the protocol, the field at fault."""

    code: ErrorCode = ErrorCode.BUSINESS_ERROR

    def __init__(self, message: str, *, field: Field | None = None, code: ErrorCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code


class InvalidOrderRequest(OrderError):
    """The request lacks or garbles what an order needs (quantity, window, one item, …)."""

    code = ErrorCode.INVALID_REQUEST


class UnknownProvider(OrderError):
    code = ErrorCode.PROVIDER_NOT_FOUND


class UnknownItem(OrderError):
    """No active offer behind that item id."""

    code = ErrorCode.ITEM_NOT_FOUND


class OrderNotFound(OrderError):
    code = ErrorCode.ORDER_NOT_FOUND


class TermsNotMet(OrderError):
    """The request breaks the offer's terms; the code depends on the rule (see `rules.RULE_CODES`)."""


class QuantityUnavailable(OrderError):
    """Fewer kW are free on the grid node over the window than were asked for."""

    code = ErrorCode.ITEM_QUANTITY_UNAVAILABLE


class QuoteExpired(OrderError):
    code = ErrorCode.QUOTE_UNAVAILABLE


class InvalidUpdateTarget(OrderError):
    code = ErrorCode.INVALID_UPDATE_TARGET


class NotUpdatable(OrderError):
    code = ErrorCode.UPDATION_NOT_POSSIBLE


class NotCancellable(OrderError):
    code = ErrorCode.CANCELLATION_NOT_POSSIBLE


class InvalidTransition(OrderError):
    """A fulfillment state change the state machine does not allow (a dispatcher bug, not a peer's)."""

    code = ErrorCode.POLICY_ERROR
