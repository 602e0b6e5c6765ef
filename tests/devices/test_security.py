"""Device credentials reach only the device's own subjects: the real server refuses everything else."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import pytest

from bpp.devices.connection import BusConnection, BusCredentials
from bpp.devices.credentials import Principal, Role
from bpp.devices.errors import BusPermissionDenied
from bpp.devices.streams import StreamLayout
from schemas.devices import Ack, AckStatus, Telemetry
from tests.devices.conftest import Aggregator, EventLog, NatsHarness, listen
from tests.devices.factories import command

pytestmark = pytest.mark.timeout(120)

# bcrypt (cost 10, as `nats server passwd` makes) of "device-secret-1": a fixed vector, no bcrypt library.
BCRYPT_VECTOR = "$2b$10$HxBlGgbAcNPJpJuXa35ZTeW5N25Ey00umVNvLsRpMwtp/anzEYyNq"


class Violations:
    """Permission violations the server reported on one connection, awaited by what they name."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[str] = asyncio.Queue()
        self.seen: list[str] = []

    def __call__(self, text: str) -> None:
        self.queue.put_nowait(text)

    async def expect(self, kind: str, subject: str) -> None:
        wanted = f'permissions violation for {kind} to "{subject.lower()}"'
        deadline = asyncio.get_running_loop().time() + 10.0
        while not any(wanted in text for text in self.seen):
            remaining = deadline - asyncio.get_running_loop().time()
            try:
                self.seen.append(await asyncio.wait_for(self.queue.get(), max(remaining, 0.001)))
            except TimeoutError:
                raise AssertionError(
                    f"the server never refused {kind} to {subject}; saw {self.seen}"
                ) from None


@asynccontextmanager
async def device_connection(
    agg: Aggregator, device_id: str
) -> AsyncIterator[tuple[BusConnection, Violations]]:
    violations = Violations()
    connection = BusConnection(
        agg.url,
        name=f"test-{device_id}",
        credentials=agg.device(device_id),
        inbox_prefix=StreamLayout(agg.id).subjects.inbox(device_id),
        request_timeout=1.0,
        on_permission_error=violations,
    )
    await connection.connect(timeout=5.0)
    try:
        yield connection, violations
    finally:
        await connection.close()


async def test_a_device_cannot_read_another_devices_commands(aggregator: Callable[..., Aggregator]) -> None:
    agg = aggregator(["dev-a", "dev-b"])
    layout = StreamLayout(agg.id)
    async with agg.bus() as bus:
        await bus.ensure_streams()
        await bus.publish_command(command("dev-b"))
        async with device_connection(agg, "dev-a") as (connection, violations):
            client = connection.client
            await client.subscribe(layout.subjects.cmd("dev-b"))
            await violations.expect("subscription", layout.subjects.cmd("dev-b"))
            await client.subscribe(layout.subjects.all_commands)
            await violations.expect("subscription", layout.subjects.all_commands)
            await client.subscribe(f"{layout.subjects.inbox('dev-b')}.>")
            await violations.expect("subscription", f"{layout.subjects.inbox('dev-b')}.>")
            await client.subscribe("_INBOX.>")
            await violations.expect("subscription", "_INBOX.>")

            # B's durable consumer: neither created, nor pulled from, by A.
            b_consumer = layout.device_consumer("dev-b")
            pull = f"$JS.API.CONSUMER.MSG.NEXT.{layout.command_stream}.{b_consumer}"
            await client.publish(pull, b'{"batch":1}', reply=f"{layout.subjects.inbox('dev-a')}.x")
            await violations.expect("publish", pull)
            create_b = (
                f"$JS.API.CONSUMER.CREATE.{layout.command_stream}.{b_consumer}.{layout.subjects.cmd('dev-b')}"
            )
            await client.publish(create_b, b"{}")
            await violations.expect("publish", create_b)

            # A's own create subject, with B's filter in the body: JetStream itself refuses.
            mine = layout.device_consumer("dev-a")
            request = {
                "stream_name": layout.command_stream,
                "config": {
                    "name": mine,
                    "durable_name": mine,
                    "filter_subject": layout.subjects.cmd("dev-b"),
                    "ack_policy": "explicit",
                },
            }
            reply = await client.request(
                f"$JS.API.CONSUMER.CREATE.{layout.command_stream}.{mine}.{layout.subjects.cmd('dev-a')}",
                json.dumps(request).encode(),
                timeout=5.0,
            )
            assert json.loads(reply.data)["error"]["err_code"] == 10131  # filter does not match the subject


async def test_a_device_cannot_speak_for_another_device(aggregator: Callable[..., Aggregator]) -> None:
    agg = aggregator(["dev-a", "dev-b"])
    layout = StreamLayout(agg.id)
    now = command("x").issued_at
    async with agg.bus() as bus:
        await bus.ensure_streams()
        log = EventLog()
        await listen(bus, log)
        async with device_connection(agg, "dev-a") as (connection, violations):
            forged_ack = Ack(command_id="c-1", device_id="dev-b", status=AckStatus.COMPLETED, at=now)
            await connection.client.publish(layout.subjects.ack("dev-b"), forged_ack.to_json())
            await violations.expect("publish", layout.subjects.ack("dev-b"))
            forged = Telemetry(device_id="dev-b", ts=now, power_kw=-50.0, state="DISCHARGING")
            await connection.client.publish(layout.subjects.telemetry("dev-b"), forged.to_json())
            await violations.expect("publish", layout.subjects.telemetry("dev-b"))
            await connection.client.publish(layout.subjects.announce("dev-b"), b"{}")
            await violations.expect("publish", layout.subjects.announce("dev-b"))

            # What A may say about itself goes through (the control: the test can tell the difference).
            own = Ack(command_id="c-1", device_id="dev-a", status=AckStatus.RECEIVED, at=now)
            stored = await connection.js.publish(layout.subjects.ack("dev-a"), own.to_json())
            assert stored.stream == layout.event_stream
            await log.wait_for(lambda log: bool(log.acks("c-1")), what="A's own ack")
        assert {event.device_id for event in log.events} == {"dev-a"}


async def test_a_device_cannot_look_into_the_streams(aggregator: Callable[..., Aggregator]) -> None:
    agg = aggregator(["dev-a"])
    layout = StreamLayout(agg.id)
    async with agg.bus() as bus:
        await bus.ensure_streams()
    async with device_connection(agg, "dev-a") as (connection, violations):
        client = connection.client
        for subject in (
            f"$JS.API.STREAM.INFO.{layout.event_stream}",
            f"$JS.API.STREAM.MSG.GET.{layout.command_stream}",
            f"$JS.API.DIRECT.GET.{layout.event_stream}",
            f"$JS.API.CONSUMER.CREATE.{layout.event_stream}.snoop",
            "$JS.API.STREAM.NAMES",
            f"$JS.API.STREAM.DELETE.{layout.command_stream}",
        ):
            await client.publish(subject, b"{}", reply=f"{layout.subjects.inbox('dev-a')}.x")
            await violations.expect("publish", subject)


async def test_a_bcrypt_password_user_gets_in_and_a_wrong_password_does_not(
    nats_harness: NatsHarness, aggregator: Callable[..., Aggregator]
) -> None:
    agg = aggregator()
    agg.store.add(Principal("dev-pw", Role.DEVICE, password_hash=BCRYPT_VECTOR))
    nats_harness.apply(agg.store)
    assert "device-secret-1" not in nats_harness.server.config_path.read_text()

    good = BusConnection(
        agg.url, name="pw", credentials=BusCredentials(user="dev-pw", password="device-secret-1")
    )
    await good.connect(timeout=5.0)
    await good.close()
    bad = BusConnection(agg.url, name="pw", credentials=BusCredentials(user="dev-pw", password="guess"))
    with pytest.raises(BusPermissionDenied):
        await bad.connect(timeout=2.0)
