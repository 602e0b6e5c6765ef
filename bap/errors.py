"""The BAP's exception tree: what a desk action can refuse, each mapped to one HTTP status by the routes."""

from __future__ import annotations


class BapError(Exception):
    """Base of every refusal the desk explains to an operator."""

    http_status = 400


class NotFound(BapError):
    """No event, offer or order has this id."""

    http_status = 404


class Conflict(BapError):
    """The thing exists but is not in a state that allows the action (approving a declined event)."""

    http_status = 409


class Invalid(BapError):
    """The request is well formed but cannot be right (a window that ends before it starts)."""

    http_status = 422


class Ambiguous(BapError):
    """A command that could mean several events or orders; the message lists them."""

    http_status = 409
