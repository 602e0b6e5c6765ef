"""Beckn error codes (BECKN-005 draft 01, plus the signature and staleness codes deployed networks use).

BECKN-005 only lists codes a BPP returns; the signature/stale codes for either receiving side follow
the ONDC convention (20001/20002 when a BAP rejects a callback, 30016/30022 when a BPP rejects a
request) because that is what gateways and peers in the field already understand.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    # Raised by a BAP against a callback it cannot accept.
    BAP_INVALID_SIGNATURE = "20001"
    BAP_STALE_REQUEST = "20002"
    BAP_INVALID_RESPONSE = "20006"

    # BECKN-005: raised by a BPP.
    INVALID_REQUEST = "30000"
    PROVIDER_NOT_FOUND = "30001"
    PROVIDER_LOCATION_NOT_FOUND = "30002"
    PROVIDER_CATEGORY_NOT_FOUND = "30003"
    ITEM_NOT_FOUND = "30004"
    CATEGORY_NOT_FOUND = "30005"
    OFFER_NOT_FOUND = "30006"
    ADD_ON_NOT_FOUND = "30007"
    FULFILLMENT_UNAVAILABLE = "30008"
    FULFILLMENT_PROVIDER_UNAVAILABLE = "30009"
    ORDER_NOT_FOUND = "30010"
    INVALID_CANCELLATION_REASON = "30011"
    INVALID_UPDATE_TARGET = "30012"
    UPDATE_INCONSISTENCY = "30013"
    ENTITY_TO_RATE_NOT_FOUND = "30014"
    INVALID_RATING_VALUE = "30015"
    BPP_INVALID_SIGNATURE = "30016"
    BPP_STALE_REQUEST = "30022"

    BUSINESS_ERROR = "40000"
    ACTION_NOT_APPLICABLE = "40001"
    ITEM_QUANTITY_UNAVAILABLE = "40002"
    QUOTE_UNAVAILABLE = "40003"
    PAYMENT_NOT_SUPPORTED = "40004"
    TRACKING_NOT_SUPPORTED = "40005"
    FULFILLMENT_AGENT_UNAVAILABLE = "40006"

    POLICY_ERROR = "50000"
    CANCELLATION_NOT_POSSIBLE = "50001"
    UPDATION_NOT_POSSIBLE = "50002"
    UNSUPPORTED_RATING_CATEGORY = "50003"
    SUPPORT_UNAVAILABLE = "50004"

    @property
    def phrase(self) -> str:
        """The short message BECKN-005 gives for the code."""
        return _PHRASES[self]

    @classmethod
    def invalid_signature(cls, *, receiving_callback: bool) -> ErrorCode:
        return cls.BAP_INVALID_SIGNATURE if receiving_callback else cls.BPP_INVALID_SIGNATURE

    @classmethod
    def stale_request(cls, *, receiving_callback: bool) -> ErrorCode:
        return cls.BAP_STALE_REQUEST if receiving_callback else cls.BPP_STALE_REQUEST


_PHRASES: dict[ErrorCode, str] = {
    ErrorCode.BAP_INVALID_SIGNATURE: "Invalid signature",
    ErrorCode.BAP_STALE_REQUEST: "Stale request",
    ErrorCode.BAP_INVALID_RESPONSE: "Invalid response",
    ErrorCode.INVALID_REQUEST: "Invalid request error",
    ErrorCode.PROVIDER_NOT_FOUND: "Provider not found",
    ErrorCode.PROVIDER_LOCATION_NOT_FOUND: "Provider location not found",
    ErrorCode.PROVIDER_CATEGORY_NOT_FOUND: "Provider category not found",
    ErrorCode.ITEM_NOT_FOUND: "Item not found",
    ErrorCode.CATEGORY_NOT_FOUND: "Category not found",
    ErrorCode.OFFER_NOT_FOUND: "Offer not found",
    ErrorCode.ADD_ON_NOT_FOUND: "Add on not found",
    ErrorCode.FULFILLMENT_UNAVAILABLE: "Fulfillment unavailable",
    ErrorCode.FULFILLMENT_PROVIDER_UNAVAILABLE: "Fulfilment provider unavailable",
    ErrorCode.ORDER_NOT_FOUND: "Order not found",
    ErrorCode.INVALID_CANCELLATION_REASON: "Invalid cancellation reason",
    ErrorCode.INVALID_UPDATE_TARGET: "Invalid update_target",
    ErrorCode.UPDATE_INCONSISTENCY: "Update inconsistency",
    ErrorCode.ENTITY_TO_RATE_NOT_FOUND: "Entity to rate not found",
    ErrorCode.INVALID_RATING_VALUE: "Invalid rating value",
    ErrorCode.BPP_INVALID_SIGNATURE: "Invalid signature",
    ErrorCode.BPP_STALE_REQUEST: "Stale request",
    ErrorCode.BUSINESS_ERROR: "Business error",
    ErrorCode.ACTION_NOT_APPLICABLE: "Action not applicable",
    ErrorCode.ITEM_QUANTITY_UNAVAILABLE: "Item quantity unavailable",
    ErrorCode.QUOTE_UNAVAILABLE: "Quote unavailable",
    ErrorCode.PAYMENT_NOT_SUPPORTED: "Payment not supported",
    ErrorCode.TRACKING_NOT_SUPPORTED: "Tracking not supported",
    ErrorCode.FULFILLMENT_AGENT_UNAVAILABLE: "Fulfilment agent unavailable",
    ErrorCode.POLICY_ERROR: "Policy error",
    ErrorCode.CANCELLATION_NOT_POSSIBLE: "Cancellation not possible",
    ErrorCode.UPDATION_NOT_POSSIBLE: "Updation not possible",
    ErrorCode.UNSUPPORTED_RATING_CATEGORY: "Unsupported rating category",
    ErrorCode.SUPPORT_UNAVAILABLE: "Support unavailable",
}
