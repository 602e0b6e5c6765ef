"""What a device agent has said about each command, so a redelivered command is never answered twice.

In memory it covers redeliveries while the agent runs; with a file it also covers an agent restart (the
events stream's duplicate window covers the rest: acks carry `Nats-Msg-Id` = `<command_id>.<status>`).
"""

from __future__ import annotations

import json
import logging
import os
from collections import OrderedDict
from pathlib import Path

from schemas.devices import AckStatus

log = logging.getLogger(__name__)


class CommandLedger:
    """(command_id, status) pairs claimed by this agent, bounded to the `keep` most recent commands."""

    def __init__(self, path: Path | None = None, *, keep: int = 10_000) -> None:
        self.path = path
        self.keep = keep
        self._said: OrderedDict[str, set[AckStatus]] = OrderedDict()
        if path is not None:
            self._load(path)

    def claim(self, command_id: str, status: AckStatus) -> bool:
        """True the first time a status is claimed for a command: only then may it be sent."""
        said = self._said.get(command_id)
        if said is None:
            said = self._said[command_id] = set()
            while len(self._said) > self.keep:
                self._said.popitem(last=False)
        if status in said:
            return False
        said.add(status)
        return True

    def said(self, command_id: str, status: AckStatus) -> bool:
        return status in self._said.get(command_id, ())

    def finished(self, command_id: str) -> AckStatus | None:
        """The terminal status already claimed for the command, if any."""
        for status in self._said.get(command_id, ()):
            if status.is_terminal:
                return status
        return None

    def record(self, command_id: str, status: AckStatus) -> None:
        """Remember durably that the ack was published (a no-op without a file)."""
        if self.path is None:
            return
        line = json.dumps({"command_id": command_id, "status": str(status)}, separators=(",", ":"))
        with self.path.open("a", encoding="utf-8") as file:
            file.write(line + "\n")
            file.flush()
            os.fsync(file.fileno())

    def _load(self, path: Path) -> None:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            return
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            try:
                entry = json.loads(line)
                self.claim(str(entry["command_id"]), AckStatus(entry["status"]))
            except (ValueError, KeyError, TypeError):
                log.warning("skipping a damaged ledger line", extra={"path": str(path), "line": number})
        # Rewrite only what is kept, so the file does not grow without bound.
        lines = [
            json.dumps({"command_id": command_id, "status": str(status)}, separators=(",", ":"))
            for command_id, statuses in self._said.items()
            for status in sorted(statuses)
        ]
        temporary = path.with_suffix(path.suffix + ".tmp")
        temporary.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        temporary.replace(path)
