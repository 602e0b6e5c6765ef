"""Letting callbacks of any domain past the pipeline's static check, for the generic Beckn client.

The participant pipeline checks `context.domain` against a fixed list before any handler runs; a BAP
that starts transactions in other domains (`deg:retail`, …) must hear their callbacks. The check moves
into `CallbackHandler.accept`, which knows which transactions we started.
"""

from __future__ import annotations

import dataclasses

from participant.app import ParticipantRuntime


class EveryDomain(frozenset[str]):
    """A domain set that contains every domain."""

    def __contains__(self, item: object) -> bool:
        return isinstance(item, str)


def accept_any_domain(runtime: ParticipantRuntime) -> None:
    runtime.pipeline.policy = dataclasses.replace(runtime.pipeline.policy, domains=EveryDomain())
