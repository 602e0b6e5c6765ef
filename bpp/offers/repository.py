"""All SQL on `bpp_offer_terms`."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bpp.fleet.models import FlexDirection
from bpp.offers.models import OfferTerms


class OfferTermsRepository:
    """Reads and writes offer terms in the caller's transaction; never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, grid_node: str, direction: FlexDirection) -> OfferTerms | None:
        statement = select(OfferTerms).where(
            OfferTerms.grid_node == grid_node, OfferTerms.direction == direction
        )
        return (await self.session.scalars(statement)).one_or_none()

    async def search(
        self,
        *,
        grid_node: str | None = None,
        direction: FlexDirection | None = None,
        active: bool | None = None,
    ) -> Sequence[OfferTerms]:
        statement = select(OfferTerms).order_by(OfferTerms.grid_node, OfferTerms.direction)
        if grid_node is not None:
            statement = statement.where(OfferTerms.grid_node == grid_node)
        if direction is not None:
            statement = statement.where(OfferTerms.direction == direction)
        if active is not None:
            statement = statement.where(OfferTerms.active.is_(active))
        return (await self.session.scalars(statement)).all()

    async def add(self, terms: OfferTerms) -> OfferTerms:
        self.session.add(terms)
        await self.session.flush()
        return terms

    async def delete(self, terms: OfferTerms) -> None:
        await self.session.delete(terms)
        await self.session.flush()

    async def flush(self) -> None:
        await self.session.flush()
