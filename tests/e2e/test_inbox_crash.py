"""A participant killed (SIGKILL) after it ACKed a message and before it processed it loses nothing:
the inbox resumes the message at the next start and processes it once."""

from __future__ import annotations

import httpx
import pytest

from participant.messagelog import ProcessingState
from tests.support.network import CrashNetwork, all_delivered, outbound, processing_states
from tests.support.servers import wait_until

pytestmark = pytest.mark.slow


def test_a_message_acked_before_a_crash_is_processed_once_after_restart(crash_network: CrashNetwork) -> None:
    net = crash_network
    blocked = net.bpp_process("--block-process")
    try:
        blocked.start()
        sent = httpx.post(
            f"{net.bap.url}/test/send",
            json={"action": "select", "bpp_id": net.bpp.subscriber_id, "bpp_uri": net.bpp.url},
        ).json()["sent"]
        message_id = sent[0]["message_id"]
        wait_until(
            lambda: processing_states(net.bpp, message_id) == [ProcessingState.PENDING], what="the BPP to ACK"
        )
        wait_until(lambda: all_delivered(net.bap.database_url), what="the BAP to record the ACK")
    finally:
        blocked.kill()

    assert processing_states(net.bpp, message_id) == [ProcessingState.PENDING]
    assert net.bap_recorder.processed("on_select") == []

    with net.bpp_process():
        wait_until(lambda: net.bap_recorder.processed("on_select"), what="on_select after the restart")
        wait_until(
            lambda: processing_states(net.bpp, message_id) == [ProcessingState.DONE],
            what="the record to be DONE",
        )
        wait_until(lambda: all_delivered(net.bpp.database_url), what="the BPP's outbox to drain")

    (callback,) = net.bap_recorder.processed("on_select")
    assert callback.message_id == message_id
    assert len(outbound(net.bpp.database_url, action="on_select")) == 1
