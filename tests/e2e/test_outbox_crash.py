"""A sender killed (SIGKILL) mid-delivery and restarted on the same database delivers every message
exactly once: at least once by the outbox, at most once by the receiver's (sender, message_id) dedupe."""

from __future__ import annotations

import json
from collections import Counter

import httpx
import pytest

from participant.outbox import OutboxStatus
from tests.support.network import CrashNetwork, all_delivered, inbound, outbound, outbox
from tests.support.servers import wait_until

pytestmark = pytest.mark.slow


def test_a_sender_killed_mid_delivery_delivers_everything_exactly_once_after_restart(
    crash_network: CrashNetwork,
) -> None:
    net = crash_network
    count = 300
    sender = net.bpp_process()
    try:
        sender.start()
        order = {
            "action": "on_status",
            "count": count,
            "bap_id": net.bap.subscriber_id,
            "bap_uri": net.bap.url,
        }
        sent = httpx.post(f"{net.bpp.url}/test/send", json=order, timeout=60).json()["sent"]
        wait_until(lambda: len(net.bap_recorder.accepted()) >= 20, what="deliveries to begin")
    finally:
        sender.kill()
    accepted_at_kill = len(net.bap_recorder.accepted())
    assert accepted_at_kill < count, "the sender finished before it was killed: the test proves nothing"

    with net.bpp_process():
        wait_until(lambda: all_delivered(net.bpp.database_url), timeout=60, what="every entry DELIVERED")

    sent_ids = {item["message_id"] for item in sent}
    assert len(sent_ids) == count
    acked = Counter(record.message_id for record in inbound(net.bap.database_url, ack_status="ACK"))
    assert set(acked) == sent_ids
    assert max(acked.values()) == 1
    entries = outbox(net.bpp.database_url)
    assert len(entries) == count
    for entry, attempts in entries:
        assert entry.status is OutboxStatus.DELIVERED
        acks = [i for i, attempt in enumerate(attempts) if attempt.ack_status == "ACK"]
        assert acks in ([], [len(attempts) - 1]), f"an attempt after an ACK on {entry.id}"
    assert any(entry.attempts > 1 for entry, _ in entries), "no entry was retried after the crash"
    for record in outbound(net.bpp.database_url):
        assert json.loads(record.body)["context"]["bap_id"] == net.bap.subscriber_id
