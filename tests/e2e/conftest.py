"""Networks for end-to-end tests: a registry and a BAP in this process, a BPP as a process to kill."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from participant.role import Role
from tests.support.network import CrashNetwork, new_member, register, registry_server
from tests.support.peer import PeerRecorder, build_peer_app
from tests.support.servers import ThreadedServer


@pytest.fixture
def crash_network(tmp_path: Path) -> Iterator[CrashNetwork]:
    """A registry and a (slow: 50 ms per request) BAP in this process; each test starts the BPP."""
    bap, bpp = new_member(tmp_path, "utility.bap"), new_member(tmp_path, "aggregator.bpp")
    recorder = PeerRecorder()
    with registry_server(tmp_path) as registry:
        register(registry.url, bap.identity, type="BAP", url=bap.url)
        register(registry.url, bpp.identity, type="BPP", url=bpp.url)
        bap_app = build_peer_app(bap.settings(registry.url), Role.BAP, recorder=recorder, delay=0.05)
        with ThreadedServer(bap_app, port=bap.port):
            yield CrashNetwork(tmp_path, registry.url, bap, bpp, recorder)
