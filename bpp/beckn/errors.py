"""Refusals as Beckn sees them: a code, a message for people, and the JSON paths at fault.

A refusal raised in `accept` becomes a NACK; one met while computing a callback goes back as that
callback's `error`. Order errors name the field at fault; here it becomes a path in the message.
"""

from __future__ import annotations

from bpp.orders.errors import Field, OrderError
from participant.errors import BecknNack
from schemas.core_v1 import Action, Error
from schemas.errors import ErrorCode

_ORDER = "message.order"
_ORDER_PATHS: dict[Field, str] = {
    Field.PROVIDER: f"{_ORDER}.provider.id",
    Field.ITEM: f"{_ORDER}.items[0].id",
    Field.QUANTITY: f"{_ORDER}.items[0].quantity.selected.measure",
    Field.WINDOW: f"{_ORDER}.fulfillments[0].stops[0].time.range",
    Field.ORDER_ID: f"{_ORDER}.id",
    Field.UPDATE_TARGET: "message.update_target",
}
_ORDER_ID_PATHS = {Action.STATUS: "message.order_id", Action.CANCEL: "message.order_id"}


class Refusal(Exception):
    def __init__(self, code: ErrorCode, message: str, *, paths: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.paths = paths

    def nack(self) -> BecknNack:
        return BecknNack(self.code, self.message, paths=self.paths)

    def error(self) -> Error:
        return Error(code=self.code.value, paths=self.paths, message=self.message)


def refusal(exc: OrderError, action: Action) -> Refusal:
    """The order error as answered to `action`, its field turned into a path of that message."""
    paths = None
    if exc.field is Field.ORDER_ID and action in _ORDER_ID_PATHS:
        paths = _ORDER_ID_PATHS[action]
    elif exc.field is not None:
        paths = _ORDER_PATHS[exc.field]
    return Refusal(exc.code, exc.message, paths=paths)


def invalid(message: str, paths: str | None = None) -> Refusal:
    return Refusal(ErrorCode.INVALID_REQUEST, message, paths=paths)
