"""The embedded nats-server really starts, serves JetStream, and survives a kill with its store."""

from __future__ import annotations

from pathlib import Path

import nats

from participant.natsserver import EmbeddedNatsServer, nats_server_binary
from tests.support.servers import free_port


def test_binary_comes_from_the_wheel() -> None:
    assert nats_server_binary().name == "nats-server"


async def test_jetstream_message_survives_a_server_kill(tmp_path: Path) -> None:
    server = EmbeddedNatsServer(tmp_path / "nats", port=free_port(), monitor_port=free_port()).start()
    try:
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        await js.add_stream(name="PROBE", subjects=["probe.>"])
        ack = await js.publish("probe.one", b"hello", headers={"Nats-Msg-Id": "m-1"})
        assert ack.seq == 1
        duplicate = await js.publish("probe.one", b"hello", headers={"Nats-Msg-Id": "m-1"})
        assert duplicate.duplicate
        await nc.close()

        server.kill()
        server.start()

        nc = await nats.connect(server.url)
        js = nc.jetstream()
        info = await js.stream_info("PROBE")
        assert info.state.messages == 1
        await nc.close()
    finally:
        server.stop()
