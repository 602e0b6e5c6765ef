"""The aggregator BPP: the participant runtime with the aggregator's handlers and operator API.

`create_bpp_app(settings)` builds it; nothing touches the network or the database before its lifespan
starts, which migrates, starts the outbox and inbox (participant runtime), loads the offers file and,
when `nats_url` is set, starts dispatching to the devices (`bpp.dispatch.tasks`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from bpp.beckn.handlers import bpp_handlers
from bpp.capacity.routes import router as capacity_router
from bpp.catalog.service import load_offers_file
from bpp.devices.errors import CredentialError
from bpp.dispatch.routes import router as dispatch_router
from bpp.dispatch.tasks import dispatch_lifespan
from bpp.fleet.routes import router as fleet_router
from bpp.offers.errors import OfferFileError
from bpp.offers.routes import router as offers_router
from bpp.offers.terms_file import read_terms_file
from bpp.orders.routes import router as orders_router
from bpp.settings import BppSettings
from participant.app import ParticipantRuntime, Role, create_participant_app, unit_of_work
from participant.errors import ConfigurationError
from participant.operators import OperatorRegistry
from registry_client.errors import KeyFormatError
from registry_client.keys import load_encryption_private_key, load_signing_key

__all__ = ["check_configuration", "create_bpp_app", "operator_registry"]


def operator_registry(settings: BppSettings) -> OperatorRegistry:
    """Who may use /api/…: the operators file, or the inline list (one place, so none is overlooked)."""
    if settings.operators_file is None:
        return OperatorRegistry.from_entries(settings.operators, source="operators")
    if settings.operators:
        raise ConfigurationError("give operators inline or in operators_file, not both")
    return OperatorRegistry.from_file(settings.operators_file)


def check_configuration(settings: BppSettings) -> None:
    """Everything that can be checked before starting; ConfigurationError says what to fix."""
    try:
        load_signing_key(settings.signing_private_key.get_secret_value())
    except KeyFormatError as exc:
        raise ConfigurationError(f"signing_private_key: {exc}") from None
    if settings.encryption_private_key is not None:
        try:
            load_encryption_private_key(settings.encryption_private_key.get_secret_value())
        except KeyFormatError as exc:
            raise ConfigurationError(f"encryption_private_key: {exc}") from None
    if settings.offers_file is not None:
        try:
            read_terms_file(settings.offers_file)
        except OfferFileError as exc:
            raise ConfigurationError(f"offers_file: {exc}") from None
    operator_registry(settings)
    if settings.nats_servers:
        try:
            settings.bus_credentials().connect_options()
        except CredentialError as exc:
            raise ConfigurationError(f"NATS credentials: {exc}") from None


def offers_loader(settings: BppSettings) -> APIRouter:
    """A router with no routes whose lifespan (nested in the runtime's) applies the offers file."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.offers_file is not None:
            runtime: ParticipantRuntime = app.state.runtime
            async with unit_of_work(runtime.session_factory) as session:
                await load_offers_file(
                    session, settings.offers_file, default_headroom=settings.default_reliability_headroom
                )
        yield

    return APIRouter(lifespan=lifespan)


def create_bpp_app(settings: BppSettings) -> FastAPI:
    app = create_participant_app(
        settings,
        role=Role.BPP,
        handlers=lambda runtime: bpp_handlers(runtime, settings),
        routers=[
            fleet_router,
            offers_router,
            capacity_router,
            orders_router,
            dispatch_router,
            offers_loader(settings),
            dispatch_lifespan(settings),
        ],
        title=f"degflex BPP {settings.provider_name}",
    )
    app.state.operators = operator_registry(settings)
    return app
