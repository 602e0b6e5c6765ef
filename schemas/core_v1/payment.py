"""Terms of settlement: DEG flexibility is paid after delivery (`POST-FULFILLMENT`)."""

from __future__ import annotations

from schemas.core_v1.base import BecknModel, Text
from schemas.core_v1.descriptor import TagGroup
from schemas.core_v1.enums import PaymentStatusField, PaymentTypeField
from schemas.core_v1.times import Time


class PaymentParams(BecknModel):
    transaction_id: str | None = None
    amount: Text | None = None
    currency: str | None = None
    bank_code: str | None = None
    bank_account_number: str | None = None
    virtual_payment_address: str | None = None
    source_bank_code: str | None = None
    source_bank_account_number: str | None = None
    source_virtual_payment_address: str | None = None


class Payment(BecknModel):
    id: str | None = None
    collected_by: str | None = None
    url: str | None = None
    params: PaymentParams | None = None
    type: PaymentTypeField = None
    status: PaymentStatusField = None
    time: Time | None = None
    tags: list[TagGroup] | None = None
