"""`/api/ders`: the operator API over the fleet. Viewers read; operators register, change and retire."""

from __future__ import annotations

import logging
from typing import Annotated, NoReturn

from fastapi import APIRouter, HTTPException, Path, Query, status
from fastapi.exceptions import RequestValidationError

from bpp.fleet import service
from bpp.fleet.errors import DerAlreadyExists, DerNotFound, DerRetired, FleetError, InvalidDer
from bpp.fleet.models import DerKind, DerStatus
from bpp.fleet.schemas import DerCreate, DerRead, DerUpdate, GridNode
from participant.app import SessionDep
from participant.operators import OperatorDep, ViewerDep

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/ders", tags=["fleet"])

DeviceIdPath = Annotated[str, Path(min_length=1, max_length=128)]


def _refuse(exc: FleetError) -> NoReturn:
    """Fleet errors as HTTP answers; cross-field problems look like any other 422 validation error."""
    if isinstance(exc, InvalidDer):
        raise RequestValidationError(
            [
                {"type": "value_error", "loc": ("body", field), "msg": message}
                for field, message in exc.problems
            ]
        ) from exc
    if isinstance(exc, DerNotFound):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc
    if isinstance(exc, DerAlreadyExists | DerRetired):
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc
    raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=str(exc)) from exc


@router.post("", status_code=status.HTTP_201_CREATED)
async def register_der(spec: DerCreate, session: SessionDep, operator: OperatorDep) -> DerRead:
    try:
        der = await service.register(session, spec)
    except FleetError as exc:
        _refuse(exc)
    log.info("device %s registered by %s", der.device_id, operator.name)
    return DerRead.model_validate(der)


@router.get("")
async def list_ders(
    session: SessionDep,
    _: ViewerDep,
    grid_node: Annotated[GridNode | None, Query()] = None,
    kind: Annotated[DerKind | None, Query()] = None,
    der_status: Annotated[DerStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[DerRead]:
    ders = await service.list_ders(
        session, grid_node=grid_node, kind=kind, status=der_status, limit=limit, offset=offset
    )
    return [DerRead.model_validate(der) for der in ders]


@router.get("/{device_id}")
async def get_der(device_id: DeviceIdPath, session: SessionDep, _: ViewerDep) -> DerRead:
    try:
        return DerRead.model_validate(await service.get(session, device_id))
    except FleetError as exc:
        _refuse(exc)


@router.patch("/{device_id}")
async def update_der(
    device_id: DeviceIdPath, changes: DerUpdate, session: SessionDep, operator: OperatorDep
) -> DerRead:
    try:
        der = await service.update(session, device_id, changes)
    except FleetError as exc:
        _refuse(exc)
    log.info("device %s changed by %s: %s", device_id, operator.name, sorted(changes.model_fields_set))
    return DerRead.model_validate(der)


@router.delete("/{device_id}")
async def retire_der(device_id: DeviceIdPath, session: SessionDep, operator: OperatorDep) -> DerRead:
    """Retire: the device stays on record (orders and settlements name it) but never counts again."""
    try:
        der = await service.retire(session, device_id)
    except FleetError as exc:
        _refuse(exc)
    log.info("device %s retired by %s", device_id, operator.name)
    return DerRead.model_validate(der)
