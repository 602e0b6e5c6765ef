"""Why a change to the fleet was refused; routes turn these into 404 / 409 / 422."""

from __future__ import annotations


class FleetError(Exception):
    """Base of every fleet error."""


class DerNotFound(FleetError):
    def __init__(self, device_id: str) -> None:
        super().__init__(f"no device {device_id!r} in the fleet")
        self.device_id = device_id


class DerAlreadyExists(FleetError):
    def __init__(self, device_id: str) -> None:
        super().__init__(f"device {device_id!r} is already registered")
        self.device_id = device_id


class DerRetired(FleetError):
    """Retirement is final: a retired device is kept for history and never changes again."""

    def __init__(self, device_id: str) -> None:
        super().__init__(f"device {device_id!r} is retired and cannot change")
        self.device_id = device_id


class InvalidDer(FleetError):
    """Rules that span several fields (flex within rating, batteries need a capacity, …)."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{field}: {message}" for field, message in problems))
        self.problems = problems
