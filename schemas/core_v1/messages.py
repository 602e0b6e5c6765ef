"""Message bodies, one per action, and the envelope that carries them.

`parse_envelope` is the schema step of the inbound pipeline: it raises pydantic's `ValidationError`,
which the caller turns into a NACK whose `error.paths` comes from `validation_paths`.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Generic, TypeVar, cast

from pydantic import SerializeAsAny, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from schemas.core_v1.ack import Error
from schemas.core_v1.actions import Action
from schemas.core_v1.base import BecknModel, json_path
from schemas.core_v1.catalog import Catalog, Intent
from schemas.core_v1.context import ENDPOINT_ACTION, Context
from schemas.core_v1.descriptor import Descriptor
from schemas.core_v1.order import Order, Rating, Support, Tracking
from schemas.core_v1.terms import XInput


class SearchMessage(BecknModel):
    intent: Intent | None = None


class OnSearchMessage(BecknModel):
    catalog: Catalog


class SelectMessage(BecknModel):
    order: Order


class OnSelectMessage(BecknModel):
    order: Order | None = None


class InitMessage(BecknModel):
    order: Order


class OnInitMessage(BecknModel):
    order: Order


class ConfirmMessage(BecknModel):
    order: Order


class OnConfirmMessage(BecknModel):
    order: Order


class StatusMessage(BecknModel):
    """The spec asks for `order_id`; some 1.x implementations send `ref_id` instead."""

    order_id: str | None = None
    ref_id: str | None = None

    @model_validator(mode="after")
    def _names_an_order(self) -> StatusMessage:
        if self.order_id is None and self.ref_id is None:
            raise ValueError("status needs order_id (or ref_id)")
        return self


class OnStatusMessage(BecknModel):
    order: Order


class TrackMessage(BecknModel):
    order_id: str | None = None
    callback_url: str | None = None


class OnTrackMessage(BecknModel):
    tracking: Tracking | None = None


class CancelMessage(BecknModel):
    order_id: str
    cancellation_reason_id: str | None = None
    descriptor: Descriptor | None = None


class OnCancelMessage(BecknModel):
    order: Order


class UpdateMessage(BecknModel):
    """`update_target` names what changes, comma separated (`fulfillment`, `item`, …)."""

    update_target: str
    order: Order


class OnUpdateMessage(BecknModel):
    order: Order


class RatingMessage(BecknModel):
    ratings: list[Rating] | None = None


class OnRatingMessage(BecknModel):
    feedback_form: XInput | None = None


class SupportMessage(BecknModel):
    support: Support | None = None


class OnSupportMessage(BecknModel):
    support: Support | None = None


MESSAGE_MODELS: dict[Action, type[BecknModel]] = {
    Action.SEARCH: SearchMessage,
    Action.SELECT: SelectMessage,
    Action.INIT: InitMessage,
    Action.CONFIRM: ConfirmMessage,
    Action.STATUS: StatusMessage,
    Action.TRACK: TrackMessage,
    Action.CANCEL: CancelMessage,
    Action.UPDATE: UpdateMessage,
    Action.RATING: RatingMessage,
    Action.SUPPORT: SupportMessage,
    Action.ON_SEARCH: OnSearchMessage,
    Action.ON_SELECT: OnSelectMessage,
    Action.ON_INIT: OnInitMessage,
    Action.ON_CONFIRM: OnConfirmMessage,
    Action.ON_STATUS: OnStatusMessage,
    Action.ON_TRACK: OnTrackMessage,
    Action.ON_CANCEL: OnCancelMessage,
    Action.ON_UPDATE: OnUpdateMessage,
    Action.ON_RATING: OnRatingMessage,
    Action.ON_SUPPORT: OnSupportMessage,
}
"""The message body of each action; the single table every handler is looked up from."""

M = TypeVar("M", bound=BecknModel)


class Envelope(BecknModel, Generic[M]):
    """A whole request or callback body. A callback may carry an `error` instead of a `message`.

    `message` is dumped as what it is, so `Envelope[BecknModel](message=SearchMessage(...))` works.
    """

    context: Context
    message: SerializeAsAny[M] | None = None
    error: Error | None = None


@cache
def _envelope_model(action: Action) -> type[Envelope[Any]]:
    return cast(type[Envelope[Any]], Envelope.__class_getitem__(MESSAGE_MODELS[action]))


def _envelope_error(loc: tuple[str, ...], kind: str | PydanticCustomError, value: Any) -> ValidationError:
    detail = InitErrorDetails(type=kind, loc=loc, input=value)
    return ValidationError.from_exception_data("Envelope", [detail])


def parse_envelope(action: Action | str, data: dict[str, Any]) -> Envelope[BecknModel]:
    """Validate a body received at the `action` endpoint: its context and that action's message.

    A context without `action` is read as the endpoint's (the spec leaves it optional for search);
    one naming another action is rejected at `context.action`. Only a callback carrying an `error`
    may leave out `message`. An `action` that is not a Beckn action raises ValueError.
    """
    action = Action(action)
    context = data.get("context") if isinstance(data, dict) else None
    if isinstance(context, dict):
        if "action" not in context:
            data = {**data, "context": {**context, "action": action.value}}
        elif context["action"] != action.value:
            mismatch = PydanticCustomError(
                "action_mismatch", "expected {expected}", {"expected": action.value}
            )
            raise _envelope_error(("context", "action"), mismatch, context["action"])
    envelope = cast("Envelope[BecknModel]", _envelope_model(action).model_validate(data))
    if envelope.message is None and (envelope.error is None or not action.is_callback):
        raise _envelope_error(("message",), "missing", data)
    return envelope


def parse_envelope_json(action: Action, body: bytes) -> Envelope[BecknModel]:
    """`parse_envelope` straight from the raw bytes, in one pass (no intermediate dict), same rules.

    Bodies that are not JSON fail with pydantic's `json_invalid` error and bodies that are not an
    object with `model_type`, both at the root.
    """
    model = _envelope_model(action)
    try:
        parsed = model.model_validate_json(body, context={ENDPOINT_ACTION: action.value})
    except ValidationError as exc:
        for error in exc.errors():
            if error["type"] == "action_mismatch":
                # Reported alone, as `parse_envelope` does: the rest was checked against the wrong model.
                mismatch = PydanticCustomError(
                    "action_mismatch", "expected {expected}", {"expected": action.value}
                )
                got = error.get("ctx", {}).get("got")
                raise _envelope_error(("context", "action"), mismatch, got) from None
        raise
    envelope = cast("Envelope[BecknModel]", parsed)
    if envelope.message is None and (envelope.error is None or not action.is_callback):
        raise _envelope_error(("message",), "missing", body)
    return envelope


def validation_paths(exc: ValidationError) -> str:
    """The failing locations as compact JSON paths (`message.order.items[0].id, context.ttl`)."""
    paths = dict.fromkeys(json_path(error["loc"]) or "$" for error in exc.errors())
    return ", ".join(paths)
