"""People and organisations: customers, agents, billing details and how to reach them."""

from __future__ import annotations

from typing import Any

from schemas.core_v1.base import BecknModel, Text
from schemas.core_v1.descriptor import Descriptor, Image, TagGroup
from schemas.core_v1.location import City, State
from schemas.core_v1.times import Time


class Contact(BecknModel):
    phone: str | None = None
    email: str | None = None
    jcard: dict[str, Any] | None = None


class Credential(BecknModel):
    id: str | None = None
    type: str | None = None
    url: str | None = None


class Language(BecknModel):
    code: str | None = None
    name: str | None = None


class Skill(BecknModel):
    code: str | None = None
    name: str | None = None


class Person(BecknModel):
    id: str | None = None
    url: str | None = None
    name: str | None = None
    image: Image | None = None
    age: str | None = None
    dob: str | None = None
    gender: str | None = None
    creds: list[Credential] | None = None
    languages: list[Language] | None = None
    skills: list[Skill] | None = None
    tags: list[TagGroup] | None = None


class Customer(BecknModel):
    person: Person | None = None
    contact: Contact | None = None


class Organization(BecknModel):
    descriptor: Descriptor | None = None
    address: str | None = None
    state: State | None = None
    city: City | None = None
    contact: Contact | None = None


class Agent(BecknModel):
    person: Person | None = None
    contact: Contact | None = None
    organization: Organization | None = None
    rating: Text | None = None


class Billing(BecknModel):
    """Who pays: in DEG flexibility, the utility that buys the flexibility."""

    name: str | None = None
    organization: Organization | None = None
    address: str | None = None
    state: State | None = None
    city: City | None = None
    email: str | None = None
    phone: str | None = None
    time: Time | None = None
    tax_id: str | None = None
