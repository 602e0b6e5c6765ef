"""All SQL of the generic client: its transactions, and the callbacks received in one (from the log)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bap.beckn.models import ClientTransaction
from participant.messagelog import Direction, MessageRecord


class ClientTransactionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, transaction_id: str) -> ClientTransaction | None:
        return await self.session.get(ClientTransaction, transaction_id)

    async def add(self, transaction: ClientTransaction) -> ClientTransaction:
        self.session.add(transaction)
        await self.session.flush()
        return transaction

    async def domains(self) -> set[str]:
        return set(await self.session.scalars(select(ClientTransaction.domain).distinct()))

    async def callbacks(self, transaction_id: str) -> list[MessageRecord]:
        """Accepted callbacks of the transaction, in the order they arrived."""
        query = (
            select(MessageRecord)
            .where(
                MessageRecord.transaction_id == transaction_id,
                MessageRecord.direction == Direction.INBOUND,
                MessageRecord.dedupe_key.is_not(None),
            )
            .order_by(MessageRecord.created_at, MessageRecord.id)
        )
        return list(await self.session.scalars(query))

    async def sent(self, transaction_id: str) -> list[MessageRecord]:
        query = (
            select(MessageRecord)
            .where(
                MessageRecord.transaction_id == transaction_id, MessageRecord.direction == Direction.OUTBOUND
            )
            .order_by(MessageRecord.created_at, MessageRecord.id)
        )
        return list(await self.session.scalars(query))
