"""The operator API over real HTTP: tokens and roles, CRUD, and 4xx answers (never a 500) for bad input."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.bpp.api import ADMIN_TOKEN, OPERATOR_TOKEN, VIEWER_TOKEN, bearer, build_app, serve
from tests.bpp.factories import NODE

ADMIN, OPERATOR, VIEWER = bearer(ADMIN_TOKEN), bearer(OPERATOR_TOKEN), bearer(VIEWER_TOKEN)

BATTERY = {
    "device_id": "bat-1",
    "kind": "BATTERY",
    "grid_node": NODE,
    "rated_kw": 10,
    "flex_kw": 8.5,
    "battery_capacity_kwh": 20,
    "state_of_charge": 0.5,
}
TERMS = {
    "price_per_kwh": "0.25",
    "currency": "INR",
    "min_kw": 10,
    "max_kw": 500,
    "response_time_s": 300,
    "min_notice_s": 900,
    "max_duration_s": 14400,
    "max_events_per_day": 2,
}


@pytest.fixture
def api(database_url: str) -> Iterator[httpx.Client]:
    with serve(build_app(database_url)) as client:
        yield client


@pytest.fixture
def sqlite_api(sqlite_database_url: str) -> Iterator[httpx.Client]:
    """SQLite only: for input checks that never reach the database, and for Hypothesis (one server
    for every example, as fixtures are not re-run per example)."""
    with serve(build_app(sqlite_database_url)) as client:
        yield client


def _errors(response: httpx.Response) -> dict[str, str]:
    """`{field: message}` of a 422 answer."""
    assert response.status_code == 422, response.text
    return {str(error["loc"][-1]): str(error["msg"]) for error in response.json()["detail"]}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/ders"),
        ("POST", "/api/ders"),
        ("PUT", f"/api/offers/{NODE}/REDUCE"),
        ("GET", "/api/capacity"),
    ],
)
def test_no_or_unknown_token_is_401_with_a_bearer_challenge(
    api: httpx.Client, method: str, path: str
) -> None:
    for headers in ({}, bearer("not-a-configured-token"), {"Authorization": f"Basic {ADMIN_TOKEN}"}):
        response = api.request(method, path, headers=headers, json={})
        assert response.status_code == 401, (headers, response.text)
        assert response.headers["WWW-Authenticate"] == "Bearer"


def test_roles_below_the_requirement_get_403_with_a_reason(api: httpx.Client) -> None:
    response = api.post("/api/ders", json=BATTERY, headers=VIEWER)
    assert response.status_code == 403
    assert response.json()["detail"] == "operator 'auditor' is a viewer; this needs the operator role"
    response = api.put(f"/api/offers/{NODE}/REDUCE", json=TERMS, headers=OPERATOR)
    assert response.status_code == 403 and "needs the admin role" in response.json()["detail"]
    assert api.delete(f"/api/offers/{NODE}/REDUCE", headers=OPERATOR).status_code == 403
    assert api.get("/api/ders", headers=VIEWER).status_code == 200


def test_fleet_crud(api: httpx.Client) -> None:
    created = api.post("/api/ders", json=BATTERY, headers=OPERATOR)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["flex_kw"] == 8.5 and body["serves"] == ["INCREASE", "REDUCE"] and body["status"] == "ONLINE"
    api.post("/api/ders", json={**BATTERY, "device_id": "load-1", "kind": "FLEXIBLE_LOAD"}, headers=ADMIN)
    api.post("/api/ders", json={**BATTERY, "device_id": "far-1", "grid_node": "feeder:F-3"}, headers=ADMIN)

    assert api.get("/api/ders/bat-1", headers=VIEWER).json() == body
    listed = api.get("/api/ders", params={"grid_node": NODE, "kind": "BATTERY"}, headers=VIEWER)
    assert [d["device_id"] for d in listed.json()] == ["bat-1"]
    assert [d["device_id"] for d in api.get("/api/ders", headers=VIEWER).json()] == [
        "far-1",
        "bat-1",
        "load-1",
    ]

    patched = api.patch(
        "/api/ders/bat-1", json={"state_of_charge": 0.9, "status": "MAINTENANCE"}, headers=OPERATOR
    )
    assert patched.status_code == 200 and patched.json()["state_of_charge"] == 0.9
    maintenance = api.get("/api/ders", params={"status": "MAINTENANCE"}, headers=VIEWER).json()
    assert [d["device_id"] for d in maintenance] == ["bat-1"]

    retired = api.delete("/api/ders/bat-1", headers=OPERATOR)
    assert retired.status_code == 200 and retired.json()["status"] == "RETIRED"
    refused = api.patch("/api/ders/bat-1", json={"flex_kw": 1}, headers=OPERATOR)
    assert refused.status_code == 409 and "retired" in refused.json()["detail"]
    duplicate = api.post("/api/ders", json=BATTERY, headers=OPERATOR)
    assert duplicate.status_code == 409 and "already registered" in duplicate.json()["detail"]
    assert api.get("/api/ders/nope", headers=VIEWER).status_code == 404
    assert api.delete("/api/ders/nope", headers=OPERATOR).status_code == 404


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({**BATTERY, "flex_kw": 12}, "flex_kw", "exceeds the device's rated_kw of 10"),
        ({**BATTERY, "battery_capacity_kwh": None}, "battery_capacity_kwh", "required for a battery"),
        ({**BATTERY, "grid_node": "TX 17"}, "grid_node", "should match pattern"),
        ({**BATTERY, "kind": "WIND_TURBINE"}, "kind", "SOLAR_INVERTER"),
        ({**BATTERY, "rated_kw": "ten"}, "rated_kw", "valid decimal"),
        ({**BATTERY, "wattage": 3}, "wattage", "Extra inputs"),
    ],
)
def test_bad_devices_are_422_naming_the_field(
    api: httpx.Client, body: dict[str, Any], field: str, words: str
) -> None:
    errors = _errors(api.post("/api/ders", json=body, headers=OPERATOR))
    assert field in errors and words in errors[field], errors


def test_bad_changes_and_queries_are_422(api: httpx.Client) -> None:
    api.post("/api/ders", json=BATTERY, headers=OPERATOR)
    assert "flex_kw" in _errors(api.patch("/api/ders/bat-1", json={"rated_kw": 5}, headers=OPERATOR))
    assert "grid_node" in _errors(api.patch("/api/ders/bat-1", json={"grid_node": None}, headers=OPERATOR))
    assert "kind" in _errors(api.get("/api/ders", params={"kind": "ROCKET"}, headers=VIEWER))
    assert "limit" in _errors(api.get("/api/ders", params={"limit": 0}, headers=VIEWER))
    broken = api.post(
        "/api/ders", content=b"{not json", headers={**OPERATOR, "Content-Type": "application/json"}
    )
    assert broken.status_code == 422


def test_offer_terms_over_http(api: httpx.Client) -> None:
    created = api.put(f"/api/offers/{NODE}/REDUCE", json=TERMS, headers=ADMIN)
    assert created.status_code == 201, created.text
    assert created.json()["price_per_kwh"] == "0.25" and created.json()["reliability_headroom"] == "0.1"
    replaced = api.put(f"/api/offers/{NODE}/REDUCE", json={**TERMS, "active": False}, headers=ADMIN)
    assert replaced.status_code == 200 and replaced.json()["id"] == created.json()["id"]
    api.put("/api/offers/feeder:F-3/INCREASE", json=TERMS, headers=ADMIN)

    assert api.get(f"/api/offers/{NODE}/REDUCE", headers=VIEWER).json()["active"] is False
    listed = api.get("/api/offers", params={"active": "true"}, headers=VIEWER).json()
    assert [(t["grid_node"], t["direction"]) for t in listed] == [("feeder:F-3", "INCREASE")]

    errors = _errors(api.put(f"/api/offers/{NODE}/REDUCE", json={**TERMS, "max_kw": 5}, headers=ADMIN))
    assert "max_kw (5) must not be below min_kw (10)" in " ".join(errors.values())
    assert "direction" in _errors(api.get(f"/api/offers/{NODE}/SIDEWAYS", headers=VIEWER))
    assert "grid_node" in _errors(api.get("/api/offers/TX-17/REDUCE", headers=VIEWER))

    assert api.delete(f"/api/offers/{NODE}/REDUCE", headers=ADMIN).status_code == 204
    assert api.delete(f"/api/offers/{NODE}/REDUCE", headers=ADMIN).status_code == 404
    assert api.get(f"/api/offers/{NODE}/REDUCE", headers=VIEWER).status_code == 404


def test_capacity_summary_over_http(api: httpx.Client) -> None:
    api.post("/api/ders", json={**BATTERY, "kind": "FLEXIBLE_LOAD", "flex_kw": 10}, headers=OPERATOR)
    summary = api.get("/api/capacity", headers=VIEWER)
    assert summary.status_code == 200
    assert summary.json() == [
        {
            "grid_node": NODE,
            "direction": "REDUCE",
            "controllable_kw": 10.0,
            "committed_kw": 0.0,
            "held_kw": 0.0,
            "available_kw": 9.0,
        }
    ]
    naive = api.get("/api/capacity", params={"at": "2026-11-21T14:00:00"}, headers=VIEWER)
    assert naive.status_code == 400 and "UTC offset" in naive.json()["detail"]


def test_an_app_without_operators_refuses_clearly(database_url: str) -> None:
    with serve(build_app(database_url, operators=None)) as client:
        response = client.get("/api/ders", headers=VIEWER)
    assert response.status_code == 503 and "not configured" in response.json()["detail"]


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)
device_bodies = st.fixed_dictionaries(
    {},
    optional={name: json_values | st.just(value) for name, value in BATTERY.items()},
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=device_bodies | json_values)
def test_no_body_makes_the_api_fail_with_a_500(sqlite_api: httpx.Client, body: object) -> None:
    for method, path in (
        ("POST", "/api/ders"),
        ("PATCH", "/api/ders/bat-1"),
        ("PUT", f"/api/offers/{NODE}/REDUCE"),
    ):
        response = sqlite_api.request(method, path, json=body, headers=ADMIN)
        assert response.status_code < 500, (method, body, response.text)


def test_the_openapi_document_describes_the_operator_api(sqlite_api: httpx.Client) -> None:
    document = sqlite_api.get("/openapi.json")
    assert document.status_code == 200
    paths = document.json()["paths"]
    assert {
        "/api/ders",
        "/api/ders/{device_id}",
        "/api/offers/{grid_node}/{direction}",
        "/api/capacity",
    } <= set(paths)
    assert "HTTPBearer" in document.json()["components"]["securitySchemes"]
