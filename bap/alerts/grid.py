"""Grid stress → a flexibility event: need = forecast peak − capacity × target loading.

The same rule for `POST /api/grid-alerts` and for alerts published on NATS by grid systems.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from bap.alerts.models import AlertKind
from bap.alerts.service import raise_alert
from bap.audit.service import Channel, record
from bap.desk import Desk
from bap.events.models import EventSource, FlexEvent
from bap.events.schemas import FlexRequestIn, GridAlertIn, window_of
from bap.events.service import open_event
from bap.orders.views import text
from bap.recommendation.models import FlexDirection
from participant.operators import Operator

KW_STEP = Decimal("0.001")


def flexibility_needed(alert: GridAlertIn, target_loading: Decimal) -> Decimal:
    """kW to take off the peak so the node stays at `target_loading` of its capacity (≤ 0: nothing)."""
    need = alert.forecast_peak_kw - alert.capacity_kw * target_loading
    return need.quantize(KW_STEP, rounding=ROUND_CEILING)


async def handle_grid_alert(
    session: AsyncSession, desk: Desk, alert: GridAlertIn, actor: Operator, channel: Channel
) -> tuple[FlexEvent | None, Decimal]:
    loading = desk.settings.target_loading
    need = flexibility_needed(alert, loading)
    if need <= 0:
        record(
            session,
            actor,
            "grid_alert",
            channel=channel,
            target_type="grid_node",
            target_id=alert.node_id,
            need_kw=str(need),
            outcome_note="within target loading",
        )
        return None, need
    source = EventSource.NATS if channel is Channel.NATS else EventSource.GRID_ALERT
    event = await open_event(
        session,
        desk,
        FlexRequestIn(
            grid_node=alert.node_id,
            location=alert.location,
            window=window_of(alert.expected_start, alert.duration),
            required_kw=need,
            direction=FlexDirection.REDUCE,
            severity=alert.severity,
        ),
        actor=actor,
        channel=channel,
        source=source,
        grid_alert=alert.model_dump(mode="json"),
    )
    percent = (loading * 100).normalize()
    await raise_alert(
        session,
        desk,
        AlertKind.GRID_STRESS,
        f"{alert.node_id}: forecast peak {alert.forecast_peak_kw} kW on {alert.capacity_kw} kW capacity "
        f"(load now {alert.load_kw} kW); {text(need)} kW of flexibility needed to stay at {percent:f} %",
        severity=alert.severity,
        event_id=event.id,
    )
    return event, need
