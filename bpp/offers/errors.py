"""Why offer terms could not be found or loaded."""

from __future__ import annotations

from pathlib import Path

from bpp.fleet.models import FlexDirection


class OfferError(Exception):
    """Base of every offer-terms error."""


class OfferNotFound(OfferError):
    def __init__(self, grid_node: str, direction: FlexDirection) -> None:
        super().__init__(f"no offer terms for {grid_node} {direction}")
        self.grid_node = grid_node
        self.direction = direction


class OfferFileError(OfferError):
    """A terms file that cannot be used; the message names the file, the entry and the field."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem
