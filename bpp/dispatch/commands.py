"""What each kind of device is told to do for an order's direction, and the wire form of a stored command.

Setpoints are always `DISPATCH_SETPOINT`: the kW of flexibility asked of the device (docs/devices.md),
so the same number means the same thing whatever the device. A battery can only be told to discharge
(the device protocol has no charge command), so batteries serve REDUCE orders only.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from decimal import Decimal

from bpp.dispatch.models import CommandStatus, DeviceCommand, DispatchPlan
from bpp.fleet.models import DerKind, FlexDirection
from bpp.orders.models import Order
from participant.db import new_id
from schemas.devices import Command, CommandKind, Setpoint, SetpointType

MIN_COMMAND = timedelta(seconds=1)
"""No command is made for less of a window than this (a RELEASE's end only has to follow its start)."""

COMMAND_KINDS: dict[tuple[DerKind, FlexDirection], CommandKind] = {
    (DerKind.BATTERY, FlexDirection.REDUCE): CommandKind.DISCHARGE,
    (DerKind.FLEXIBLE_LOAD, FlexDirection.REDUCE): CommandKind.SHED,
    (DerKind.EV_CHARGER, FlexDirection.REDUCE): CommandKind.PAUSE_CHARGING,
    (DerKind.SOLAR_INVERTER, FlexDirection.INCREASE): CommandKind.CURTAIL,
}


def command_kind(kind: DerKind, direction: FlexDirection) -> CommandKind | None:
    """The command that makes this kind of device move net load in `direction`; None if there is none."""
    return COMMAND_KINDS.get((kind, direction))


def dispatchable_kinds(direction: FlexDirection) -> list[DerKind]:
    return [kind for (kind, served), _ in COMMAND_KINDS.items() if served is direction]


def wire_command(row: DeviceCommand) -> Command:
    """The message JetStream stores for a command row (the same bytes on every retry)."""
    setpoint = None
    if row.kind is not CommandKind.RELEASE:
        assert row.setpoint_kw is not None and row.setpoint_type is not None
        setpoint = Setpoint(type=SetpointType(row.setpoint_type), value=float(row.setpoint_kw))
    return Command(
        command_id=row.command_id,
        order_id=row.order_id,
        device_id=row.device_id,
        kind=row.kind,
        setpoint=setpoint,
        start=row.start,
        end=row.end,
        issued_at=row.issued_at,
    )


def new_command(
    order: Order,
    plan: DispatchPlan,
    device_id: str,
    kw: Decimal,
    kind: CommandKind,
    start: datetime,
    publish_at: datetime,
    now: datetime,
    *,
    spare: bool = False,
) -> DeviceCommand:
    """A device's part of an order: `kw` of flexibility from `start` to the window's end."""
    return DeviceCommand(
        command_id=new_id(),
        order_id=order.id,
        plan_version=plan.version,
        device_id=device_id,
        kind=kind,
        setpoint_type=SetpointType.DISPATCH_SETPOINT.value,
        setpoint_kw=kw,
        spare=spare,
        start=start,
        end=order.window_end,
        issued_at=now,
        status=CommandStatus.PENDING,
        publish_at=publish_at,
        publish_attempts=0,
        created_at=now,
        updated_at=now,
    )


def release_commands(
    order: Order, plan: DispatchPlan, device_ids: Collection[str], now: datetime
) -> list[DeviceCommand]:
    """A RELEASE per device: it ends every running command of the order on the device, published now."""
    return [
        DeviceCommand(
            command_id=new_id(),
            order_id=order.id,
            plan_version=plan.version,
            device_id=device_id,
            kind=CommandKind.RELEASE,
            spare=False,
            start=now,
            end=max(order.window_end, now + MIN_COMMAND),
            issued_at=now,
            status=CommandStatus.PENDING,
            publish_at=now,
            publish_attempts=0,
            created_at=now,
            updated_at=now,
        )
        for device_id in sorted(set(device_ids))
    ]
