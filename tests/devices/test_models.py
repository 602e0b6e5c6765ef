"""Device messages: every valid message survives the wire and its JSON Schema; broken ones are refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator  # type: ignore[import-untyped, unused-ignore]

from schemas.devices import (
    ALLOWED_SETPOINTS,
    DEVICE_MESSAGES,
    Ack,
    AckStatus,
    Announce,
    Channel,
    Command,
    CommandKind,
    DeviceKind,
    DeviceMessage,
    DeviceMessageError,
    InvalidSubject,
    Setpoint,
    Subjects,
    Telemetry,
    schema_errors,
    schema_of,
)

device_ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_:-]{0,30}", fullmatch=True)
command_ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,40}", fullmatch=True)
labels = st.text(min_size=1, max_size=40)
zones = st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-7))])
moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=zones)
kilowatts = st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False)
signed_kilowatts = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
fractions = st.floats(min_value=0, max_value=1)
grid_nodes = st.from_regex(r"(transformer|feeder|substation):[A-Za-z0-9][A-Za-z0-9._-]{0,20}", fullmatch=True)


@st.composite
def commands(draw: st.DrawFn) -> Command:
    kind = draw(st.sampled_from(list(CommandKind)))
    setpoint = None
    if kind is not CommandKind.RELEASE:
        setpoint_type = draw(st.sampled_from(sorted(ALLOWED_SETPOINTS[kind])))
        setpoint = Setpoint(type=setpoint_type, value=draw(kilowatts))
    start = draw(moments)
    return Command(
        command_id=draw(command_ids),
        order_id=draw(labels),
        device_id=draw(device_ids),
        kind=kind,
        setpoint=setpoint,
        start=start,
        end=start + timedelta(milliseconds=draw(st.integers(1, 10**9))),
        issued_at=draw(moments),
    )


acks = st.builds(
    Ack,
    command_id=command_ids,
    device_id=device_ids,
    status=st.sampled_from(list(AckStatus)),
    at=moments,
    reason=st.none() | st.text(min_size=1, max_size=100),
    delivered_kw=st.none() | signed_kilowatts,
)
telemetry = st.builds(
    Telemetry,
    device_id=device_ids,
    ts=moments,
    power_kw=signed_kilowatts,
    soc=st.none() | fractions,
    state=st.from_regex(r"[A-Z][A-Z0-9_]{0,20}", fullmatch=True),
)


@st.composite
def announcements(draw: st.DrawFn) -> Announce:
    kind = draw(st.sampled_from(list(DeviceKind)))
    rated = draw(st.floats(min_value=0.001, max_value=1e5))
    located = draw(st.booleans())
    return Announce(
        device_id=draw(device_ids),
        kind=kind,
        rated_kw=rated,
        flex_kw=draw(st.floats(min_value=0, max_value=rated)),
        grid_node=draw(grid_nodes),
        site_id=draw(st.none() | labels),
        meter_id=draw(st.none() | labels),
        battery_capacity_kwh=draw(st.floats(min_value=0.1, max_value=1e4))
        if kind is DeviceKind.BATTERY
        else draw(st.none() | st.floats(min_value=0.1, max_value=1e4)),
        soc=draw(st.none() | fractions),
        lat=draw(st.floats(min_value=-90, max_value=90)) if located else None,
        lon=draw(st.floats(min_value=-180, max_value=180)) if located else None,
        firmware=draw(st.none() | st.text(min_size=1, max_size=20)),
        at=draw(moments),
    )


messages = commands() | acks | telemetry | announcements()


@given(messages)
def test_a_message_survives_the_wire_and_its_schema(message: DeviceMessage) -> None:
    wire = message.to_json()
    assert schema_errors(message.schema_name, json.loads(wire)) == []
    assert type(message).from_json(wire) == message


@given(messages)
def test_timestamps_go_out_in_utc_to_the_millisecond(message: DeviceMessage) -> None:
    document = message.dump()
    for name in ("start", "end", "issued_at", "at", "ts"):
        if name in document:
            assert document[name].endswith("Z") and len(document[name]) == len("2026-01-15T17:00:00.000Z")


@pytest.mark.parametrize("name", sorted(DEVICE_MESSAGES))
def test_the_schemas_are_valid_draft_2020_12(name: str) -> None:
    schema = schema_of(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


NOW = datetime(2026, 1, 15, 17, 0, tzinfo=UTC)
GOOD: dict[str, dict[str, Any]] = {
    "command": Command(
        command_id="c-1",
        order_id="o-1",
        device_id="bat-1",
        kind=CommandKind.DISCHARGE,
        setpoint=Setpoint(type="DISPATCH_SETPOINT", value=3),
        start=NOW,
        end=NOW + timedelta(hours=1),
        issued_at=NOW,
    ).dump(),
    "ack": Ack(command_id="c-1", device_id="bat-1", status=AckStatus.RECEIVED, at=NOW).dump(),
    "telemetry": Telemetry(device_id="bat-1", ts=NOW, power_kw=-2.5, soc=0.5, state="DISCHARGING").dump(),
    "announce": Announce(
        device_id="bat-1",
        kind=DeviceKind.BATTERY,
        rated_kw=5,
        flex_kw=5,
        grid_node="transformer:TX-17",
        battery_capacity_kwh=10,
        at=NOW,
    ).dump(),
}

DROP = object()
"""A change that removes the field."""

BAD: list[tuple[str, str, dict[str, Any], bool]] = [
    # (message, what is wrong, changes, whether JSON Schema alone can see it)
    ("command", "no setpoint on DISCHARGE", {"setpoint": DROP}, True),
    ("command", "null setpoint on DISCHARGE", {"setpoint": None}, True),
    ("command", "a setpoint on RELEASE", {"kind": "RELEASE"}, True),
    (
        "command",
        "export limit on DISCHARGE",
        {"setpoint": {"type": "EXPORT_CAPACITY_LIMIT", "value": 1}},
        True,
    ),
    ("command", "negative setpoint", {"setpoint": {"type": "DISPATCH_SETPOINT", "value": -1}}, True),
    ("command", "unit W", {"setpoint": {"type": "DISPATCH_SETPOINT", "value": 1, "unit": "W"}}, True),
    ("command", "dot in the device id", {"device_id": "bat.1"}, True),
    ("command", "wildcard device id", {"device_id": ">"}, True),
    ("command", "unknown kind", {"kind": "CHARGE"}, True),
    ("command", "time without offset", {"start": "2026-01-15T17:00:00"}, True),
    ("command", "not RFC 3339", {"start": "15/01/2026 17:00"}, True),
    ("command", "missing command_id", {"command_id": DROP}, True),
    ("command", "end before start", {"end": "2026-01-15T16:00:00.000Z"}, False),
    ("ack", "unknown status", {"status": "DONE"}, True),
    ("ack", "empty reason", {"reason": ""}, True),
    ("ack", "delivered as text", {"delivered_kw": "3"}, True),
    ("telemetry", "state of charge above 1", {"soc": 1.5}, True),
    ("telemetry", "lower-case state", {"state": "idle"}, True),
    ("telemetry", "power as text", {"power_kw": "2"}, True),
    ("telemetry", "power as a boolean", {"power_kw": True}, True),
    ("announce", "battery without capacity", {"battery_capacity_kwh": DROP}, True),
    ("announce", "latitude without longitude", {"lat": 12.9}, True),
    ("announce", "zero rating", {"rated_kw": 0}, True),
    ("announce", "grid node without kind", {"grid_node": "TX-17"}, True),
    ("announce", "flex above rating", {"flex_kw": 6}, False),
]


@pytest.mark.parametrize(("name", "why", "changes", "schema_sees_it"), BAD, ids=[case[1] for case in BAD])
def test_a_broken_message_is_refused(
    name: str, why: str, changes: dict[str, Any], schema_sees_it: bool
) -> None:
    document = {key: value for key, value in {**GOOD[name], **changes}.items() if value is not DROP}
    assert bool(schema_errors(name, document)) is schema_sees_it
    with pytest.raises(DeviceMessageError) as caught:
        DEVICE_MESSAGES[name].from_json(json.dumps(document))
    assert caught.value.locations


@pytest.mark.parametrize("name", sorted(GOOD))
def test_the_good_examples_are_good(name: str) -> None:
    assert schema_errors(name, GOOD[name]) == []
    DEVICE_MESSAGES[name].from_json(json.dumps(GOOD[name]))


def test_not_json_is_a_device_message_error() -> None:
    with pytest.raises(DeviceMessageError, match="not JSON"):
        Command.from_json(b"\xff{")


def test_unknown_fields_are_ignored_so_newer_agents_still_talk() -> None:
    document = {**GOOD["telemetry"], "voltage_v": 231.0}
    assert schema_errors("telemetry", document) == []
    assert Telemetry.from_json(json.dumps(document)).power_kw == -2.5


# -- subjects -------------------------------------------------------------------------------------------


def test_subjects_follow_the_layout() -> None:
    subjects = Subjects("agg-1")
    assert subjects.cmd("bat-1") == "degflex.agg-1.cmd.bat-1"
    assert subjects.ack("bat-1") == "degflex.agg-1.ack.bat-1"
    assert subjects.telemetry("bat-1") == "degflex.agg-1.telemetry.bat-1"
    assert subjects.announce("bat-1") == "degflex.agg-1.announce.bat-1"
    assert subjects.all_commands == "degflex.agg-1.cmd.>"
    assert subjects.all_events == [
        "degflex.agg-1.ack.>",
        "degflex.agg-1.telemetry.>",
        "degflex.agg-1.announce.>",
    ]
    assert subjects.root == "degflex.agg-1.>"


@given(device_ids, st.sampled_from(list(Channel)))
def test_a_subject_parses_back_to_its_channel_and_device(device_id: str, channel: Channel) -> None:
    subjects = Subjects("agg-1")
    assert subjects.parse(subjects.of(channel, device_id)) == (channel, device_id)


@pytest.mark.parametrize("device_id", ["", "a.b", "*", ">", "a b", "-x", "a\tb", "x" * 129, "é"])
def test_ids_that_are_not_one_token_are_refused(device_id: str) -> None:
    with pytest.raises(InvalidSubject):
        Subjects("agg-1").cmd(device_id)


@pytest.mark.parametrize("aggregator", ["", "agg.1", "agg:1", "*"])
def test_aggregator_ids_must_fit_a_token_and_a_stream_name(aggregator: str) -> None:
    with pytest.raises(InvalidSubject):
        Subjects(aggregator)


@pytest.mark.parametrize(
    "subject",
    [
        "degflex.agg-2.ack.bat-1",
        "degflex.agg-1.ack",
        "degflex.agg-1.ack.bat-1.x",
        "degflex.agg-1.status.bat-1",
    ],
)
def test_foreign_subjects_do_not_parse(subject: str) -> None:
    with pytest.raises(InvalidSubject):
        Subjects("agg-1").parse(subject)
