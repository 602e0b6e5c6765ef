"""Terms attached to items and orders: cancellation, refund, return, replacement, extra inputs."""

from __future__ import annotations

from typing import Any

from schemas.core_v1.base import BecknModel
from schemas.core_v1.descriptor import MediaFile
from schemas.core_v1.enums import FormMimeTypeField, PartyField
from schemas.core_v1.fulfillment import FulfillmentState
from schemas.core_v1.location import Location, State
from schemas.core_v1.quantities import Fee, Price
from schemas.core_v1.times import Time


class Form(BecknModel):
    url: str | None = None
    data: dict[str, Any] | None = None
    mime_type: FormMimeTypeField = None
    submission_id: str | None = None


class XInput(BecknModel):
    """Extra input a BPP asks for before it confirms (a consumer's meter id and OTP when enrolling)."""

    form: Form | None = None
    required: bool | None = None


class CancellationTerm(BecknModel):
    fulfillment_state: FulfillmentState | None = None
    reason_required: bool | None = None
    cancel_by: Time | None = None
    cancellation_fee: Fee | None = None
    xinput: XInput | None = None
    external_ref: MediaFile | None = None


class RefundTerm(BecknModel):
    fulfillment_state: State | None = None
    refund_eligible: bool | None = None
    refund_within: Time | None = None
    refund_amount: Price | None = None


class ReturnTerm(BecknModel):
    fulfillment_state: State | None = None
    return_eligible: bool | None = None
    return_time: Time | None = None
    return_location: Location | None = None
    fulfillment_managed_by: PartyField = None


class ReplacementTerm(BecknModel):
    fulfillment_state: State | None = None
    replace_within: Time | None = None
    external_ref: MediaFile | None = None
