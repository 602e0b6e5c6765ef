"""A flexibility market on one machine for tests: a registry, utilities (BAPs) that sign their requests and
record the callbacks they get, and an aggregator BPP (`create_bpp_app` in a thread, or `degflex bpp` as a
process) with a fleet registered through its operator API and offers loaded from an offers file.

Every callback a utility receives is checked against the official Beckn spec and the profile's schemas.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy import update

from bpp.app import create_bpp_app
from bpp.capacity.models import Reservation, ReservationStatus
from bpp.settings import BppSettings
from participant.db import make_engine, make_session_factory, utcnow
from participant.role import Role
from schemas.core_v1 import Action, format_timestamp
from schemas.profile import profile_errors
from tests.bpp.api import ADMIN_TOKEN, OPERATOR_TOKEN, VIEWER_TOKEN, bearer
from tests.support.conformance import assert_ack_conforms, assert_conforms
from tests.support.network import (
    Member,
    inbound,
    new_member,
    register,
    registry_server,
    request_body,
    signed_headers,
)
from tests.support.peer import PeerRecorder, build_peer_app
from tests.support.servers import ProcessServer, ThreadedServer, python_module, wait_until

NODE = "transformer:TX-17"
PROVIDER = "aggregator.bpp"
OPERATORS = [
    {"name": "grid-admin", "role": "admin", "token": ADMIN_TOKEN},
    {"name": "control-room", "role": "operator", "token": OPERATOR_TOKEN},
    {"name": "auditor", "role": "viewer", "token": VIEWER_TOKEN},
]


def offer(grid_node: str = NODE, direction: str = "REDUCE", **overrides: Any) -> dict[str, Any]:
    """One offers-file entry: 0.25 INR/kWh, 10–500 kW, 15 min notice, 4 h max, cancel 1 h ahead."""
    entry: dict[str, Any] = {
        "grid_node": grid_node,
        "direction": direction,
        "price_per_kwh": "0.25",
        "reservation_price_per_kw": "1.5",
        "currency": "INR",
        "min_kw": 10,
        "max_kw": 500,
        "response_time_s": 300,
        "min_notice_s": 900,
        "max_duration_s": 4 * 3600,
        "max_events_per_day": 4,
        "baseline_method": "X_OF_Y_10_10",
        "cancel_before_s": 3600,
        "cancellation_fee": "50",
        "reliability_headroom": "0",
    }
    entry.update(overrides)
    return entry


def write_offers(path: Path, *entries: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump({"offers": list(entries)}))
    return path


def load(grid_node: str = NODE, flex_kw: int = 100, **overrides: Any) -> dict[str, Any]:
    """A device for `POST /api/ders`: a flexible load (REDUCE only), unless `kind` says otherwise."""
    device: dict[str, Any] = {
        "device_id": f"load-{grid_node.split(':')[1]}-{flex_kw}-{len(overrides)}",
        "kind": "FLEXIBLE_LOAD",
        "grid_node": grid_node,
        "rated_kw": flex_kw,
        "flex_kw": flex_kw,
        "latitude": 12.9716,
        "longitude": 77.5946,
        "area_code": "560001",
    }
    device.update(overrides)
    return device


def hour_window(hours_ahead: float = 2, length_hours: float = 1) -> tuple[datetime, datetime]:
    """A window starting `hours_ahead` from now (on the minute), lasting `length_hours`."""
    start = (datetime.now(UTC) + timedelta(hours=hours_ahead)).replace(second=0, microsecond=0)
    return start, start + timedelta(hours=length_hours)


def iso(moment: datetime) -> str:
    """As degflex writes times on the wire (UTC, milliseconds, `Z`)."""
    return format_timestamp(moment)


# -- message bodies --------------------------------------------------------------------------------------


def search_message(
    window: tuple[datetime, datetime] | None,
    *,
    direction: str = "REDUCE",
    required_kw: str = "50",
    grid_node: str | None = None,
    location: dict[str, Any] | None = None,
) -> dict[str, Any]:
    need = [
        {"descriptor": {"code": "direction"}, "value": direction},
        {"descriptor": {"code": "required_kw"}, "value": required_kw},
    ]
    if grid_node is not None:
        need.append({"descriptor": {"code": "grid_node"}, "value": grid_node})
    stop: dict[str, Any] = {"type": "event"}
    if window is not None:
        stop["time"] = {"range": {"start": iso(window[0]), "end": iso(window[1])}}
    if location is not None:
        stop["location"] = location
    return {
        "intent": {
            "descriptor": {"name": "demand flexibility"},
            "fulfillment": {"type": "DEMAND_FLEXIBILITY", "stops": [stop]},
            "tags": [{"descriptor": {"code": "flex_need"}, "list": need}],
        }
    }


def item_id(grid_node: str = NODE, direction: str = "REDUCE") -> str:
    return f"{grid_node}:{direction}"


def order(
    kw: str | None,
    window: tuple[datetime, datetime] | None,
    *,
    item: str | None = None,
    provider: str = PROVIDER,
    order_id: str | None = None,
    billing: bool = False,
) -> dict[str, Any]:
    """The `order` of select / init / confirm / update: one item, its kW, the event window."""
    entry: dict[str, Any] = {"id": item or item_id()}
    if kw is not None:
        entry["quantity"] = {"selected": {"measure": {"value": kw, "unit": "kW"}}}
    body: dict[str, Any] = {"provider": {"id": provider}, "items": [entry]}
    if window is not None:
        body["fulfillments"] = [
            {
                "id": "event",
                "type": "DEMAND_FLEXIBILITY",
                "stops": [
                    {"type": "event", "time": {"range": {"start": iso(window[0]), "end": iso(window[1])}}}
                ],
            }
        ]
    if order_id is not None:
        body["id"] = order_id
    if billing:
        body["billing"] = {"name": "Bay Utility", "email": "settlements@bay-utility.example"}
    return body


# -- participants -----------------------------------------------------------------------------------------


def assert_valid_callback(body: dict[str, Any]) -> None:
    """What every message the BPP sends must be: valid Beckn 1.1.1 and valid profile tag groups."""
    assert_conforms(body)
    message = body.get("message")
    if message is not None:
        assert profile_errors(message) == []


@dataclass(frozen=True)
class Sent:
    response: httpx.Response
    body: dict[str, Any]

    @property
    def message_id(self) -> str:
        return str(self.body["context"]["message_id"])

    @property
    def transaction_id(self) -> str:
        return str(self.body["context"]["transaction_id"])

    @property
    def acked(self) -> bool:
        return self.response.status_code == 200 and self.response.json()["message"]["ack"]["status"] == "ACK"

    @property
    def error(self) -> dict[str, Any]:
        """The NACK's error (and the reply must be a valid NACK)."""
        reply: dict[str, Any] = self.response.json()
        assert_ack_conforms(reply)
        assert reply["message"]["ack"]["status"] == "NACK", reply
        error: dict[str, Any] = reply["error"]
        return error


@dataclass
class Utility:
    """A BAP: signs requests to the aggregator and receives its callbacks on a real port."""

    member: Member
    recorder: PeerRecorder
    sent: list[dict[str, Any]] = field(default_factory=list)

    @property
    def subscriber_id(self) -> str:
        return self.member.subscriber_id

    def send(
        self,
        bpp: Member,
        action: Action,
        message: dict[str, Any],
        *,
        transaction_id: str | None = None,
        ttl: timedelta = timedelta(seconds=30),
        url: str | None = None,
    ) -> Sent:
        context: dict[str, Any] = {"transaction_id": transaction_id} if transaction_id else {}
        if action is Action.SEARCH:
            context.update(bpp_id=None, bpp_uri=None)
        raw = request_body(action, bap=self.member, bpp=bpp, message=message, ttl=ttl, **context)
        body = json.loads(raw)
        body["context"] = {key: value for key, value in body["context"].items() if value is not None}
        raw = json.dumps(body, separators=(",", ":")).encode()
        assert_conforms(body)
        self.sent.append(body)
        response = httpx.post(
            f"{url or bpp.url}/{action.value}",
            content=raw,
            headers=signed_headers(raw, self.member.identity),
            timeout=30,
        )
        return Sent(response, body)

    def callbacks(self, action: Action, message_id: str | None = None) -> list[dict[str, Any]]:
        where: dict[str, Any] = {"action": action.callback.value}
        if message_id is not None:
            where["message_id"] = message_id
        return [json.loads(record.body) for record in inbound(self.member.database_url, **where)]

    def callback(self, sent: Sent, *, timeout: float = 20.0) -> dict[str, Any]:
        """The callback answering `sent`, once it arrived and the BAP accepted it; checked for validity."""
        action = Action(sent.body["context"]["action"])
        where = {"action": action.callback.value, "message_id": sent.message_id}
        wait_until(lambda: inbound(self.member.database_url, **where), timeout=timeout, what=f"{where}")
        (record,) = inbound(self.member.database_url, **where)
        assert (record.ack_status, record.counterparty) == ("ACK", PROVIDER), record.error_message
        body: dict[str, Any] = json.loads(record.body)
        assert_valid_callback(body)
        return body


def bpp_settings(member: Member, registry_url: str, offers_file: Path, **overrides: Any) -> BppSettings:
    values: dict[str, Any] = {
        **member.settings(registry_url).model_dump(),
        "offers_file": offers_file,
        "operators": OPERATORS,
        "provider_name": "Flex Aggregator",
        "provider_short_desc": "Batteries, loads and EV chargers behind TX-17",
    }
    values.update(overrides)
    return BppSettings(**values)


def bpp_config(member: Member, registry_url: str, offers_file: Path, path: Path, **overrides: Any) -> Path:
    """The same settings as a `--config` file for `degflex bpp`."""
    settings = bpp_settings(member, registry_url, offers_file, **overrides)
    values = settings.model_dump(mode="json", exclude_none=True)
    values["signing_private_key"] = settings.signing_private_key.get_secret_value()
    if settings.encryption_private_key is not None:
        values["encryption_private_key"] = settings.encryption_private_key.get_secret_value()
    values["log_format"] = "json"
    path.write_text(yaml.safe_dump(values))
    return path


def bpp_process(member: Member, config: Path, log_path: Path) -> ProcessServer:
    """`degflex bpp --config FILE` on the member's port, ready when /health answers."""
    return ProcessServer(
        python_module("participant.cli", "bpp", "--config", str(config)), url=member.url, log_path=log_path
    )


class Api:
    """The BPP's operator API with a bearer token."""

    def __init__(self, url: str, token: str = ADMIN_TOKEN) -> None:
        self.client = httpx.Client(base_url=url, headers=bearer(token), timeout=30)

    def add_device(self, device: dict[str, Any]) -> None:
        response = self.client.post("/api/ders", json=device)
        assert response.status_code == 201, response.text

    def get(self, path: str, **params: Any) -> Any:
        response = self.client.get(path, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def close(self) -> None:
        self.client.close()


@dataclass
class Market:
    """A registry, two utilities and the aggregator; `bpp_url` is the (first) BPP server."""

    directory: Path
    registry_url: str
    database_url: str
    bpp: Member
    utility: Utility
    rival: Utility
    api: Api
    stack: ExitStack
    process: ProcessServer | None = None

    def serve_bpp(self, database_url: str, offers_file: Path, **overrides: Any) -> str:
        """One more replica of the aggregator on `database_url`, on its own port; its URL."""
        settings = bpp_settings(
            self.bpp, self.registry_url, offers_file, database_url=database_url, **overrides
        )
        server = ThreadedServer(create_bpp_app(settings))
        self.stack.enter_context(server)
        return server.url


@contextmanager
def market(
    directory: Path,
    database_url: str,
    offers: list[dict[str, Any]],
    devices: list[dict[str, Any]],
    *,
    as_process: bool = False,
    **overrides: Any,
) -> Iterator[Market]:
    """Registry and utilities in threads; the aggregator on its registered port: `create_bpp_app` in a
    thread, or `degflex bpp --config FILE` as a process (`Market.process`, to stop, kill and restart)."""
    utility_member = new_member(directory, "utility.bap")
    rival_member = new_member(directory, "rival.bap")
    bpp = new_member(directory, PROVIDER)
    offers_file = write_offers(directory / "offers.yaml", *offers)
    with ExitStack() as stack:
        registry = stack.enter_context(registry_server(directory))
        utilities = []
        for member in (utility_member, rival_member):
            register(registry.url, member.identity, type="BAP", url=member.url)
            recorder = PeerRecorder()
            app = build_peer_app(member.settings(registry.url), Role.BAP, recorder=recorder)
            stack.enter_context(ThreadedServer(app, port=member.port))
            utilities.append(Utility(member, recorder))
        register(registry.url, bpp.identity, type="BPP", url=bpp.url)
        process = None
        if as_process:
            config = bpp_config(
                bpp, registry.url, offers_file, directory / "bpp.yaml", database_url=database_url, **overrides
            )
            process = stack.enter_context(bpp_process(bpp, config, directory / "bpp.log"))
        else:
            settings = bpp_settings(bpp, registry.url, offers_file, database_url=database_url, **overrides)
            stack.enter_context(ThreadedServer(create_bpp_app(settings), port=bpp.port))
        api = Api(bpp.url)
        stack.callback(api.close)
        for device in devices:
            api.add_device(device)
        yield Market(
            directory, registry.url, database_url, bpp, utilities[0], utilities[1], api, stack, process
        )


def expire_holds(database_url: str) -> None:
    """What the passing of `hold_ttl_seconds` does to the aggregator's database: every hold's expiry moves
    into the past (its draft's quote still stands)."""

    async def run() -> None:
        engine = make_engine(database_url)
        try:
            async with make_session_factory(engine)() as session:
                await session.execute(
                    update(Reservation)
                    .where(Reservation.status == ReservationStatus.HELD)
                    .values(expires_at=utcnow() - timedelta(seconds=1))
                )
                await session.commit()
        finally:
            await engine.dispose()

    asyncio.run(run())


def at_once(*calls: Any) -> list[Any]:
    """Run the calls in threads released together by a barrier; their results in order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = calls[index]()
        except BaseException as exc:  # surfaced below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    if errors:
        raise errors[0]
    return results
