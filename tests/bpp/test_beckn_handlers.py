"""The handlers on a real runtime (database, outbox), called the way the inbound pipeline calls them:
`accept` refuses with the right NACK, `process` answers each request once, in time, and only when it has
something to say (or was told to answer empty searches)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from bpp.beckn.handlers import SearchHandler, bpp_handlers
from bpp.fleet import service as fleet
from bpp.fleet.models import FlexDirection
from bpp.offers import service as offers
from bpp.settings import BppSettings
from participant.app import ParticipantRuntime, Role, open_runtime, unit_of_work
from participant.db import new_id, utcnow
from participant.errors import BecknNack
from participant.inbound import InboundMessage
from participant.messagelog import Direction, MessageLogRepository
from registry_client.keys import generate_identity
from registry_client.lookup import Subscriber, SubscriberStatus, SubscriberType
from schemas.core_v1 import Action, Context, parse_envelope
from tests.bpp.factories import der_create, offer_terms_in
from tests.bpp.flex_network import NODE, hour_window, order, search_message
from tests.support.conformance import assert_conforms

UTILITY = generate_identity("utility.bap")
SIGNER = Subscriber(
    subscriber_id=UTILITY.subscriber_id,
    unique_key_id=UTILITY.unique_key_id,
    type=SubscriberType.BAP,
    url="http://127.0.0.1:9",
    signing_public_key=UTILITY.signing_public_key,
    status=SubscriberStatus.SUBSCRIBED,
)


@dataclass
class Running:
    runtime: ParticipantRuntime
    settings: BppSettings


@pytest.fixture
async def running(database_url: str) -> AsyncIterator[Running]:
    """The aggregator's runtime (no HTTP); TX-17 sells 100 kW of REDUCE."""
    identity = generate_identity("aggregator.bpp")
    settings = BppSettings(
        subscriber_id=identity.subscriber_id,
        subscriber_url="http://127.0.0.1:9",
        unique_key_id=identity.unique_key_id,
        signing_private_key=identity.signing_private_key,
        registry_url="http://127.0.0.1:9",
        database_url=database_url,
        outbox_poll_seconds=60,
    )
    async with open_runtime(settings, Role.BPP, lambda runtime: bpp_handlers(runtime, settings)) as runtime:
        async with unit_of_work(runtime.session_factory) as session:
            await fleet.register(session, der_create(rated_kw=Decimal(100), flex_kw=Decimal(100)))
            await offers.put_terms(
                session, NODE, FlexDirection.REDUCE, offer_terms_in(reliability_headroom="0")
            )
        yield Running(runtime, settings)


def received(action: Action, message: dict[str, Any], *, age: timedelta = timedelta(0)) -> InboundMessage:
    """A message as the pipeline hands it over after its checks; `age` backdates it."""
    context = Context.new(
        action=action,
        domain="deg:demand-flex",
        bap_id=UTILITY.subscriber_id,
        bap_uri="http://127.0.0.1:9",
        bpp_id="aggregator.bpp",
        bpp_uri="http://127.0.0.1:9",
        ttl=timedelta(seconds=30),
    )
    data = {
        "context": {**context.dump(), "timestamp": (context.timestamp - age).isoformat()},
        "message": message,
    }
    envelope = parse_envelope(action, data)
    return InboundMessage(
        record_id=new_id(),
        action=action,
        context=envelope.context,
        envelope=envelope,
        body=json.dumps(data).encode(),
        sender=UTILITY.subscriber_id,
        signer=SIGNER,
        gateway=None,
        received_at=utcnow(),
    )


async def answers(running: Running, message: InboundMessage) -> list[dict[str, Any]]:
    async with running.runtime.session_factory() as session:
        records = await MessageLogRepository(session).search(
            direction=Direction.OUTBOUND, transaction_id=message.context.transaction_id
        )
    return [json.loads(record.body) for record in records]


async def test_a_request_processed_twice_is_answered_once(running: Running) -> None:
    handler = running.runtime.handlers[Action.SELECT]
    select = received(Action.SELECT, {"order": order("50", hour_window())})

    await handler.process(select)
    await handler.process(select)

    (answer,) = await answers(running, select)
    assert answer["context"]["message_id"] == select.context.message_id
    assert answer["message"]["order"]["quote"]["price"]["value"] == "12.5"  # 50 kW × 1 h × 0.25


async def test_a_refusal_in_process_is_the_callbacks_error(running: Running) -> None:
    select = received(Action.SELECT, {"order": order("150", hour_window())})
    await running.runtime.handlers[Action.SELECT].process(select)

    (answer,) = await answers(running, select)
    assert_conforms(answer)
    assert "message" not in answer and answer["error"]["code"] == "40002"


async def test_a_refusal_in_accept_is_a_nack(running: Running) -> None:
    select = received(Action.SELECT, {"order": order("50", hour_window(), item="transformer:TX-99:REDUCE")})
    async with running.runtime.session_factory() as session:
        with pytest.raises(BecknNack) as refused:
            await running.runtime.handlers[Action.SELECT].accept(session, select)
    assert (refused.value.code.value, refused.value.paths) == ("30004", "message.order.items[0].id")


async def test_expired_requests_are_not_answered(running: Running) -> None:
    for action, message in [
        (Action.SEARCH, search_message(hour_window())),
        (Action.SELECT, {"order": order("50", hour_window())}),
        (Action.INIT, {"order": order("50", hour_window())}),
    ]:
        stale = received(action, message, age=timedelta(minutes=1))
        await running.runtime.handlers[action].process(stale)
        assert await answers(running, stale) == []


async def test_empty_searches_are_answered_only_when_configured(running: Running) -> None:
    nothing = search_message(hour_window(), direction="INCREASE")
    quiet = received(Action.SEARCH, nothing)
    await running.runtime.handlers[Action.SEARCH].process(quiet)
    assert await answers(running, quiet) == []

    talkative = SearchHandler(
        running.runtime, running.settings.model_copy(update={"callback_on_empty_search": True})
    )
    asked = received(Action.SEARCH, nothing)
    await talkative.process(asked)
    (answer,) = await answers(running, asked)
    assert_conforms(answer)
    assert answer["message"]["catalog"]["providers"] == []
