"""All SQL on telemetry buckets (`bpp_device_readings`) and each device's part in an order
(`bpp_order_devices`).

Buckets are added to with SQL arithmetic (samples + n, sum + s), never read-modified-written, so two
replicas reading the same event stream cannot lose each other's readings.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import and_, case, delete, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from bpp.dispatch.models import DeviceReading, OrderDevice
from bpp.dispatch.repository import chunks, upsert


@dataclass(frozen=True)
class Bucket:
    """What a batch of telemetry adds to one device's interval."""

    device_id: str
    bucket_start: datetime
    seconds: int
    samples: int
    sum_kw: Decimal
    min_kw: Decimal
    max_kw: Decimal
    last_ts: datetime
    soc: float | None


class ReadingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def last_counted(
        self, keys: Collection[tuple[str, datetime]]
    ) -> dict[tuple[str, datetime], datetime]:
        """The newest sample already counted in each (device, bucket) that exists."""
        found: dict[tuple[str, datetime], datetime] = {}
        for part in chunks(sorted(keys), 200):
            rows = await self.session.execute(
                select(DeviceReading.device_id, DeviceReading.bucket_start, DeviceReading.last_ts).where(
                    tuple_(DeviceReading.device_id, DeviceReading.bucket_start).in_(list(part))
                )
            )
            found.update({(device_id, start): last for device_id, start, last in rows.all()})
        return found

    async def add(self, buckets: Sequence[Bucket]) -> None:
        if not buckets:
            return
        table = cast(Any, DeviceReading.__table__)
        statement = upsert(self.session, table)
        new = statement.excluded
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.device_id, table.c.bucket_start],
            set_={
                "samples": table.c.samples + new.samples,
                "sum_kw": table.c.sum_kw + new.sum_kw,
                "min_kw": case((new.min_kw < table.c.min_kw, new.min_kw), else_=table.c.min_kw),
                "max_kw": case((new.max_kw > table.c.max_kw, new.max_kw), else_=table.c.max_kw),
                "soc": case((new.last_ts >= table.c.last_ts, new.soc), else_=table.c.soc),
                "last_ts": case((new.last_ts > table.c.last_ts, new.last_ts), else_=table.c.last_ts),
            },
        )
        await self.session.execute(statement, [bucket.__dict__ for bucket in buckets])

    async def averages(
        self, device_ids: Collection[str], spans: Sequence[tuple[datetime, datetime]]
    ) -> dict[str, dict[datetime, tuple[Decimal, int]]]:
        """(sum kW, samples) per device and bucket start, for buckets starting within any of `spans`."""
        found: dict[str, dict[datetime, tuple[Decimal, int]]] = {}
        if not spans:
            return found
        within = or_(
            *(
                and_(DeviceReading.bucket_start >= start, DeviceReading.bucket_start < end)
                for start, end in spans
            )
        )
        for part in chunks(sorted(device_ids), 200):
            rows = await self.session.execute(
                select(
                    DeviceReading.device_id,
                    DeviceReading.bucket_start,
                    DeviceReading.sum_kw,
                    DeviceReading.samples,
                ).where(DeviceReading.device_id.in_(part), within)
            )
            for device_id, start, total, samples in rows.all():
                found.setdefault(device_id, {})[start] = (Decimal(total), int(samples))
        return found

    async def prune(self, before: datetime) -> int:
        result = await self.session.execute(delete(DeviceReading).where(DeviceReading.bucket_start < before))
        return int(getattr(result, "rowcount", 0) or 0)


class OrderDeviceRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of_order(self, order_id: str) -> dict[str, OrderDevice]:
        rows = await self.session.scalars(
            select(OrderDevice)
            .where(OrderDevice.order_id == order_id)
            .order_by(OrderDevice.device_id)
            .execution_options(populate_existing=True)
        )
        return {row.device_id: row for row in rows}

    async def add_all(self, rows: Sequence[OrderDevice]) -> None:
        self.session.add_all(rows)
        await self.session.flush()
