"""`/api/offers`: terms per grid node and direction. Viewers read; only admins change prices and rules."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Response, status

from bpp.fleet.models import FlexDirection
from bpp.fleet.schemas import GridNode
from bpp.offers import service
from bpp.offers.errors import OfferNotFound
from bpp.offers.schemas import OfferTermsIn, OfferTermsRead
from participant.app import SessionDep
from participant.operators import AdminDep, ViewerDep

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/offers", tags=["offers"])

GridNodePath = Annotated[GridNode, Path()]


@router.get("")
async def list_offer_terms(
    session: SessionDep,
    _: ViewerDep,
    grid_node: Annotated[GridNode | None, Query()] = None,
    direction: Annotated[FlexDirection | None, Query()] = None,
    active: Annotated[bool | None, Query()] = None,
) -> list[OfferTermsRead]:
    terms = await service.list_terms(session, grid_node=grid_node, direction=direction, active=active)
    return [OfferTermsRead.model_validate(entry) for entry in terms]


@router.get("/{grid_node}/{direction}")
async def get_offer_terms(
    grid_node: GridNodePath, direction: FlexDirection, session: SessionDep, _: ViewerDep
) -> OfferTermsRead:
    try:
        return OfferTermsRead.model_validate(await service.get_terms(session, grid_node, direction))
    except OfferNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc


@router.put("/{grid_node}/{direction}", responses={201: {"description": "created"}})
async def put_offer_terms(
    grid_node: GridNodePath,
    direction: FlexDirection,
    spec: OfferTermsIn,
    response: Response,
    session: SessionDep,
    admin: AdminDep,
) -> OfferTermsRead:
    """Create or replace the whole set of terms (200 replaced, 201 created)."""
    terms, created = await service.put_terms(session, grid_node, direction, spec)
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    log.info(
        "offer terms for %s %s %s by %s",
        grid_node,
        direction,
        "created" if created else "replaced",
        admin.name,
    )
    return OfferTermsRead.model_validate(terms)


@router.delete("/{grid_node}/{direction}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_offer_terms(
    grid_node: GridNodePath, direction: FlexDirection, session: SessionDep, admin: AdminDep
) -> None:
    try:
        await service.delete_terms(session, grid_node, direction)
    except OfferNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc
    log.info("offer terms for %s %s deleted by %s", grid_node, direction, admin.name)
