"""How an order is delivered: for flexibility, the event window (stops) and the delivery state."""

from __future__ import annotations

from schemas.core_v1.base import BecknModel, Text, Timestamp
from schemas.core_v1.descriptor import Descriptor, TagGroup
from schemas.core_v1.location import Location
from schemas.core_v1.parties import Agent, Contact, Customer, Person
from schemas.core_v1.times import Time


class Authorization(BecknModel):
    type: str | None = None
    token: str | None = None
    valid_from: Timestamp | None = None
    valid_to: Timestamp | None = None
    status: str | None = None


class Stop(BecknModel):
    id: str | None = None
    parent_stop_id: str | None = None
    location: Location | None = None
    type: str | None = None
    time: Time | None = None
    instructions: Descriptor | None = None
    contact: Contact | None = None
    person: Person | None = None
    authorization: Authorization | None = None


class FulfillmentState(BecknModel):
    """`descriptor.code` carries the state (DEG flexibility: SCHEDULED, DISPATCHED, … SETTLED)."""

    descriptor: Descriptor | None = None
    updated_at: Timestamp | None = None
    updated_by: str | None = None


class Fulfillment(BecknModel):
    id: str | None = None
    type: str | None = None
    rateable: bool | None = None
    rating: Text | None = None
    state: FulfillmentState | None = None
    tracking: bool | None = None
    customer: Customer | None = None
    agent: Agent | None = None
    contact: Contact | None = None
    stops: list[Stop] | None = None
    path: str | None = None
    tags: list[TagGroup] | None = None
