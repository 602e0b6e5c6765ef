"""`create_bap_app(settings)`: the utility's BAP — Beckn callbacks, the operator API, the console socket
and the web console page.

Built on the participant app; the desk's own workers (the deadline scheduler, the optional NATS grid
alert subscriber) start after the participant runtime and stop before it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from fastapi import FastAPI

from bap.alerts.routes import router as alerts_router
from bap.alerts.tasks import GridAlertSubscriber
from bap.api import refused
from bap.audit.routes import router as audit_router
from bap.beckn.routes import router as beckn_router
from bap.console.hub import ConsoleHub
from bap.console.page import router as console_page_router
from bap.console.routes import router as console_router
from bap.desk import Desk
from bap.errors import BapError
from bap.events.routes import router as events_router
from bap.network.domains import accept_any_domain
from bap.network.handlers import callback_handlers
from bap.network.routes import router as status_router
from bap.orders.routes import router as orders_router
from bap.settings import BapSettings
from bap.tasks import DeadlineScheduler, outcome_hook
from participant.app import ParticipantRuntime, Role, create_participant_app
from participant.inbound import ActionHandler
from participant.outbox.worker import DeliveryOutcome, OutcomeHook
from schemas.core_v1 import Action

log = logging.getLogger(__name__)

ROUTERS = (
    events_router,
    alerts_router,
    orders_router,
    audit_router,
    beckn_router,
    status_router,
    console_router,
    console_page_router,
)


def create_bap_app(settings: BapSettings) -> FastAPI:
    """Raises `ConfigurationError` at once for unusable operator settings (before anything starts)."""
    operators = settings.operator_registry()
    hub = ConsoleHub(queue_size=settings.websocket_queue_size)

    def handlers(runtime: ParticipantRuntime) -> Mapping[Action, ActionHandler]:
        desk = Desk(settings=settings, runtime=runtime, hub=hub)
        app.state.desk = desk
        return callback_handlers(desk)

    app = create_participant_app(
        settings,
        role=Role.BAP,
        handlers=handlers,
        routers=ROUTERS,
        title=f"degflex BAP {settings.subscriber_id}",
    )
    app.state.operators = operators
    app.add_exception_handler(BapError, refused)
    participant_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with participant_lifespan(app):
            desk: Desk = app.state.desk
            accept_any_domain(desk.runtime)
            desk.runtime.outbox.on_outcome = _both(desk.runtime.outbox.on_outcome, outcome_hook(desk))
            scheduler = DeadlineScheduler(desk)
            desk.wake_scheduler = scheduler.wake
            await scheduler.start()
            subscriber = None
            if settings.nats_url is not None:
                subscriber = GridAlertSubscriber(desk, settings.nats_url, settings.grid_alert_subject)
                await subscriber.start()
            app.state.grid_alerts = subscriber
            try:
                yield
            finally:
                hub.close_all()
                if subscriber is not None:
                    await subscriber.stop()
                await scheduler.stop()

    app.router.lifespan_context = lifespan
    return app


def _both(first: OutcomeHook | None, second: OutcomeHook) -> OutcomeHook:
    """Keep the participant's own hook (metrics) and add the desk's."""

    async def on_outcome(outcome: DeliveryOutcome) -> None:
        if first is not None:
            await first(outcome)
        await second(outcome)

    return on_outcome
