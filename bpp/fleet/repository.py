"""All SQL on `bpp_ders`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bpp.fleet.errors import DerAlreadyExists
from bpp.fleet.models import Der, DerKind, DerStatus


class DerRepository:
    """Reads and writes devices in the caller's transaction; never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, device_id: str) -> Der | None:
        return await self.session.get(Der, device_id)

    async def add(self, der: Der) -> Der:
        """Insert; a device registered concurrently under the same id surfaces as DerAlreadyExists."""
        self.session.add(der)
        try:
            await self.session.flush()
        except IntegrityError as exc:
            raise DerAlreadyExists(der.device_id) from exc
        return der

    async def flush(self) -> None:
        await self.session.flush()

    async def search(
        self,
        *,
        grid_node: str | None = None,
        kind: DerKind | None = None,
        status: DerStatus | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> Sequence[Der]:
        statement = select(Der).order_by(Der.grid_node, Der.device_id).limit(limit).offset(offset)
        if grid_node is not None:
            statement = statement.where(Der.grid_node == grid_node)
        if kind is not None:
            statement = statement.where(Der.kind == kind)
        if status is not None:
            statement = statement.where(Der.status == status)
        return (await self.session.scalars(statement)).all()

    async def online(
        self, *, grid_node: str | None = None, kinds: Iterable[DerKind] | None = None
    ) -> Sequence[Der]:
        """ONLINE devices, optionally on one grid node and of some kinds: what capacity may count on.

        Always re-read (`populate_existing`): a state of charge loaded earlier in the session may be stale.
        """
        statement = (
            select(Der)
            .where(Der.status == DerStatus.ONLINE)
            .order_by(Der.device_id)
            .execution_options(populate_existing=True)
        )
        if grid_node is not None:
            statement = statement.where(Der.grid_node == grid_node)
        if kinds is not None:
            statement = statement.where(Der.kind.in_(list(kinds)))
        return (await self.session.scalars(statement)).all()

    async def observe(self, seen: Mapping[str, tuple[datetime, float | None]]) -> None:
        """Telemetry heard: each device's last-seen time and, when it reports one, its state of charge."""
        if not seen:
            return
        table = cast(Table, Der.__table__)
        statement = (
            update(table)
            .where(table.c.device_id == bindparam("seen_id"), table.c.status != DerStatus.RETIRED)
            .values(
                last_seen_at=bindparam("seen_at"),
                state_of_charge=func.coalesce(bindparam("seen_soc"), table.c.state_of_charge),
            )
        )
        await self.session.execute(
            statement,
            [
                {"seen_id": device_id, "seen_at": at, "seen_soc": soc}
                for device_id, (at, soc) in sorted(seen.items())
            ],
        )
