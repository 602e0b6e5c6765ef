"""Finding a row by a shortened id, as operators type them in console commands."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from bap.errors import Ambiguous, NotFound

MAX_LISTED = 5
T = TypeVar("T")


async def by_prefix(
    session: AsyncSession, model: type[T], column: InstrumentedAttribute[str], ref: str, what: str
) -> T:
    """The one row whose id is `ref` or starts with it; NotFound or Ambiguous (listing a few) otherwise."""
    exact = await session.get(model, ref)
    if exact is not None:
        return exact
    escaped = ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    query: Select[Any] = select(model).where(column.like(escaped + "%", escape="\\")).limit(MAX_LISTED + 1)
    found: list[T] = list(await session.scalars(query))
    if not found:
        raise NotFound(f"no {what} {ref!r}")
    if len(found) > 1:
        ids = ", ".join(str(getattr(row, column.key)) for row in found[:MAX_LISTED])
        raise Ambiguous(f"{ref!r} could be several {what}s ({ids}); type more of the id")
    return found[0]
