"""Fleet rules: what a valid device is, and how it is registered, changed, retired and announced.

Services take typed arguments and flush; the caller's session dependency commits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from bpp.fleet.errors import DerAlreadyExists, DerNotFound, DerRetired, InvalidDer
from bpp.fleet.models import Der, DerKind, DerStatus, format_kw
from bpp.fleet.repository import DerRepository
from bpp.fleet.schemas import DerAnnouncement, DerCreate, DerUpdate
from participant.db import utcnow

# Statuses an operator may set; RETIRED is reached only through `retire`, and is final.
SETTABLE_STATUSES = frozenset({DerStatus.ONLINE, DerStatus.OFFLINE, DerStatus.MAINTENANCE})


def _problems(values: Mapping[str, object]) -> list[tuple[str, str]]:
    """Rules across fields of one device, for a new device or a device with changes applied."""
    problems: list[tuple[str, str]] = []
    rated_kw, flex_kw = values["rated_kw"], values["flex_kw"]
    if isinstance(rated_kw, Decimal) and isinstance(flex_kw, Decimal) and flex_kw > rated_kw:
        problems.append(
            ("flex_kw", f"{format_kw(flex_kw)} kW exceeds the device's rated_kw of {format_kw(rated_kw)} kW")
        )
    if values["kind"] == DerKind.BATTERY and values.get("battery_capacity_kwh") is None:
        problems.append(("battery_capacity_kwh", "is required for a battery"))
    if (values.get("latitude") is None) != (values.get("longitude") is None):
        problems.append(
            (
                "longitude" if values.get("latitude") is not None else "latitude",
                "give latitude and longitude together",
            )
        )
    if values.get("status", DerStatus.ONLINE) not in SETTABLE_STATUSES:
        problems.append(("status", "retire a device with DELETE, not by setting its status"))
    return problems


def _check(values: Mapping[str, object]) -> None:
    problems = _problems(values)
    if problems:
        raise InvalidDer(problems)


async def get(session: AsyncSession, device_id: str) -> Der:
    der = await DerRepository(session).get(device_id)
    if der is None:
        raise DerNotFound(device_id)
    return der


async def list_ders(
    session: AsyncSession,
    *,
    grid_node: str | None = None,
    kind: DerKind | None = None,
    status: DerStatus | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Sequence[Der]:
    return await DerRepository(session).search(
        grid_node=grid_node, kind=kind, status=status, limit=limit, offset=offset
    )


async def register(session: AsyncSession, spec: DerCreate) -> Der:
    """Add a device to the fleet; DerAlreadyExists when its id is taken (even by a retired device)."""
    values = spec.model_dump()
    _check(values)
    repository = DerRepository(session)
    if await repository.get(spec.device_id) is not None:
        raise DerAlreadyExists(spec.device_id)
    return await repository.add(Der(**values))


async def update(session: AsyncSession, device_id: str, changes: DerUpdate) -> Der:
    """Apply a partial change, checked against the device as it would be afterwards."""
    der = await get(session, device_id)
    if der.status is DerStatus.RETIRED:
        raise DerRetired(device_id)
    _check({**_values(der), **changes.changes()})
    for name, value in changes.changes().items():
        setattr(der, name, value)
    await DerRepository(session).flush()
    return der


async def retire(session: AsyncSession, device_id: str) -> Der:
    """Take a device out of service for good; kept for history (orders and settlements name it)."""
    der = await get(session, device_id)
    if der.status is not DerStatus.RETIRED:
        der.status = DerStatus.RETIRED
        await DerRepository(session).flush()
    return der


async def announce(
    session: AsyncSession, announcement: DerAnnouncement, *, now: datetime | None = None
) -> Der:
    """A device agent's hello: register on first sight, else refresh its description and liveness.

    An announcing device is ONLINE unless an operator put it in MAINTENANCE or retired it; its kind
    never changes (a different kind under the same id is a misconfigured agent, not a new device).
    """
    seen_at = now or utcnow()
    repository = DerRepository(session)
    der = await repository.get(announcement.device_id)
    if der is None:
        values = announcement.model_dump()
        _check(values)
        return await repository.add(Der(**values, status=DerStatus.ONLINE, last_seen_at=seen_at))
    # Only what the agent actually sent: it must not wipe what an operator filled in.
    values = announcement.model_dump(exclude_unset=True)
    if der.kind != announcement.kind:
        raise InvalidDer([("kind", f"device {der.device_id!r} is registered as {der.kind}")])
    if der.status is not DerStatus.RETIRED:
        values["status"] = DerStatus.ONLINE if der.status is DerStatus.OFFLINE else der.status
        _check({**_values(der), **values})
        for name, value in values.items():
            setattr(der, name, value)
    der.last_seen_at = seen_at
    await repository.flush()
    return der


def _values(der: Der) -> dict[str, object]:
    return {column.key: getattr(der, column.key) for column in Der.__table__.columns}
