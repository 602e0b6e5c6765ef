"""Managing offer terms: one set per grid node and direction, replaced whole, loadable from a file."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from bpp.fleet.models import FlexDirection
from bpp.offers.errors import OfferNotFound
from bpp.offers.models import DEFAULT_HEADROOM, OfferTerms
from bpp.offers.repository import OfferTermsRepository
from bpp.offers.schemas import OfferTermsIn
from bpp.offers.terms_file import read_terms_file


async def get_terms(session: AsyncSession, grid_node: str, direction: FlexDirection) -> OfferTerms:
    terms = await OfferTermsRepository(session).get(grid_node, direction)
    if terms is None:
        raise OfferNotFound(grid_node, direction)
    return terms


async def list_terms(
    session: AsyncSession,
    *,
    grid_node: str | None = None,
    direction: FlexDirection | None = None,
    active: bool | None = None,
) -> Sequence[OfferTerms]:
    return await OfferTermsRepository(session).search(grid_node=grid_node, direction=direction, active=active)


async def put_terms(
    session: AsyncSession, grid_node: str, direction: FlexDirection, spec: OfferTermsIn
) -> tuple[OfferTerms, bool]:
    """Create or replace the terms for a grid node and direction; True when they were created."""
    repository = OfferTermsRepository(session)
    values = spec.model_dump(include=set(OfferTermsIn.model_fields))
    terms = await repository.get(grid_node, direction)
    if terms is None:
        return await repository.add(OfferTerms(grid_node=grid_node, direction=direction, **values)), True
    for name, value in values.items():
        setattr(terms, name, value)
    await repository.flush()
    return terms, False


async def delete_terms(session: AsyncSession, grid_node: str, direction: FlexDirection) -> None:
    """Stop offering there; reservations already made are untouched (they do not depend on the terms)."""
    repository = OfferTermsRepository(session)
    terms = await repository.get(grid_node, direction)
    if terms is None:
        raise OfferNotFound(grid_node, direction)
    await repository.delete(terms)


async def apply_terms_file(session: AsyncSession, path: Path) -> list[OfferTerms]:
    """Create or replace every entry of a terms file; entries not in the file are left as they are.

    The whole file is validated before anything is written, so a bad entry changes nothing.
    """
    entries = read_terms_file(path)
    return [(await put_terms(session, entry.grid_node, entry.direction, entry))[0] for entry in entries]


async def reliability_headroom(session: AsyncSession, grid_node: str, direction: FlexDirection) -> Decimal:
    """The share of controllable kW never sold there; the default when no terms exist yet."""
    terms = await OfferTermsRepository(session).get(grid_node, direction)
    return DEFAULT_HEADROOM if terms is None else terms.reliability_headroom
