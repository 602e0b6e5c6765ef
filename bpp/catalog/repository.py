"""The SQL behind the catalog: the fleet of each grid node summed up by kind and area, in one query."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bpp.fleet.models import Der, DerKind, DerStatus


@dataclass(frozen=True)
class FleetGroup:
    """ONLINE devices of one kind in one area of a grid node; means are over the located devices."""

    grid_node: str
    kind: DerKind
    area_code: str | None
    devices: int
    located: int
    mean_latitude: float | None
    mean_longitude: float | None
    mean_reliability: float


class CatalogRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def fleet_groups(self) -> Sequence[FleetGroup]:
        statement = (
            select(
                Der.grid_node,
                Der.kind,
                Der.area_code,
                func.count(),
                func.count(Der.latitude),
                func.avg(Der.latitude),
                func.avg(Der.longitude),
                func.avg(Der.reliability),
            )
            .where(Der.status == DerStatus.ONLINE)
            .group_by(Der.grid_node, Der.kind, Der.area_code)
            .order_by(Der.grid_node, Der.kind, Der.area_code)
        )
        rows = (await self.session.execute(statement)).all()
        return [
            FleetGroup(
                grid_node=grid_node,
                kind=DerKind(kind),
                area_code=area_code,
                devices=int(devices),
                located=int(located),
                mean_latitude=float(latitude) if latitude is not None else None,
                mean_longitude=float(longitude) if longitude is not None else None,
                mean_reliability=float(reliability),
            )
            for grid_node, kind, area_code, devices, located, latitude, longitude, reliability in rows
        ]
