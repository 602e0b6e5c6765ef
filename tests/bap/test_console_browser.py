"""The web console in a real browser: headless Chromium against a real BAP and two real aggregator BPPs.

An operator signs in with a token, sees the snapshot, watches a grid alert turn into offers and a
recommendation, clicks Approve, and follows the orders to delivery and settlement, one of them short of
its commitment. Screenshots go to `DEGFLEX_TEST_SCREENSHOTS` when set (to look at the layout), else to the
test's temporary directory.

Needs Debian's `chromium` (or `DEGFLEX_TEST_CHROMIUM`); skipped without it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from tests.bap.aggregator import Offer, Script
from tests.bap.browser import Page, chromium, chromium_path
from tests.bap.conftest import OPERATOR_TOKEN, VIEWER_TOKEN, UtilityNetwork
from tests.bap.test_websocket import flex_window_start, push

CHROMIUM = chromium_path()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="the browser test needs Chromium: apt-get install chromium (or set DEGFLEX_TEST_CHROMIUM)",
    ),
]


@pytest.fixture
def page() -> Iterator[Page]:
    assert CHROMIUM is not None
    with chromium(CHROMIUM) as page:
        page.viewport(1280, 800)
        yield page
        assert page.errors == [], "the page logged errors"


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    configured = os.environ.get("DEGFLEX_TEST_SCREENSHOTS")
    directory = Path(configured) if configured else tmp_path / "screenshots"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def sign_in(page: Page, network: UtilityNetwork, token: str) -> None:
    page.goto(network.bap.url + "/")
    page.wait_for("location.pathname === '/console' && !document.getElementById('login').hidden")
    page.type("#token", token, enter=True)
    page.wait_for(
        "document.getElementById('connection').textContent === 'Connected' && "
        "!document.getElementById('whoami').hidden",
        what="the snapshot",
    )


def raise_grid_alert(network: UtilityNetwork) -> str:
    response = network.api().post(
        "/api/grid-alerts",
        json={
            "node_id": "transformer:TX-17",
            "load_kw": 400,
            "capacity_kw": 500,
            "forecast_peak_kw": 500,
            "expected_start": flex_window_start(),
            "duration": "PT1H",
            "severity": "high",
        },
    )
    assert response.status_code == 202, response.text
    event_id: str = response.json()["event"]["id"]
    return event_id


def offer_rows(page: Page) -> list[list[str]]:
    rows: list[list[str]] = page.evaluate(
        "[...document.querySelectorAll('table.offers tbody tr')]"
        ".map(row => [...row.cells].map(cell => cell.innerText.trim()))"
    )
    return rows


def test_an_operator_approves_a_grid_alert_and_follows_it_to_settlement(
    network: UtilityNetwork, page: Page, screenshots: Path
) -> None:
    sign_in(page, network, OPERATOR_TOKEN)
    assert "control-room" in page.text("#whoami") and "operator" in page.text("#whoami")
    page.wait_for("document.querySelector('#command-log').innerText.includes('Connected as control-room')")
    assert "No open events" in page.text("#events")

    event_id = raise_grid_alert(network)
    page.wait_for("document.querySelector('#alerts').innerText.includes('Grid stress')", what="the alert")
    page.wait_for("!!document.querySelector('button.approve')", what="the approve button")
    assert "transformer:TX-17" in page.text("#events")
    assert "Awaiting approval" in page.text("#events")
    assert "need 50 kW reduce" in page.text("#events"), "details of an event first seen live are filled in"
    rows = offer_rows(page)
    assert [row[0].splitlines()[0] for row in rows] == ["alpha.aggregator", "beta.aggregator"]
    alpha, beta = rows
    assert alpha[1:4] == ["40 kW", "0.20", "90 %"]
    assert beta[1:4] == ["60 kW", "0.30", "95 %"]
    assert alpha[4].startswith("40 kW") and alpha[5] == "8.00"
    assert "Cost (INR)" in page.evaluate("document.querySelector('table.offers thead').textContent")
    assert "Fully covered" in page.text(".coverage")
    assert page.text("button.approve").startswith("Approve: 2 offer(s), INR")
    page.screenshot(screenshots / "console-awaiting-approval.png")

    page.click("button.approve")
    page.wait_for(
        "document.querySelectorAll('#orders article.order-ACTIVE').length === 2", what="two active orders"
    )
    log = page.text("#command-log")
    assert f"› approve {event_id}" in log and f"Activating event {event_id[:8]}" in log
    assert not page.evaluate("!!document.querySelector('button.approve')"), "approval is gone once activating"
    page.wait_for("document.querySelector('#event-detail .event-head').innerText.includes('Active')")
    assert "Scheduled" in page.text("#orders li.current")

    orders = network.api().get(f"/api/flex-requests/{event_id}").json()["orders"]
    first, second = sorted(orders, key=lambda order: order["aggregator_id"])
    push(network, first, "IN_PROGRESS", first["committed_kw"], devices_acked=3, devices_opted_out=1)
    page.wait_for(
        "[...document.querySelectorAll('#orders li.current')].some(li => li.innerText === 'In progress')",
        what="an order in progress",
    )
    page.wait_for("document.querySelector('#orders').innerText.includes('3 acked')")
    assert "1 opted out" in page.text("#orders")
    push(network, first, "SETTLED", first["committed_kw"], devices_acked=3, settled_amount="4.5")
    page.wait_for("document.querySelector('#orders').innerText.includes('settled INR 4.50 net')")

    page.type("#command", "status", enter=True)
    page.wait_for("document.querySelector('#command-log').innerText.includes('1 open event(s)')")
    assert page.evaluate("document.activeElement.id") == "command", "the command line keeps the focus"
    final = page.screenshot(screenshots / "console-orders-progress.png")
    assert final.stat().st_size > 10_000

    alpha_card = "#orders article[aria-label='order with alpha.aggregator']"
    assert page.text(f"{alpha_card} .badge.outcome") == "Settled · Completed"

    short = str(Decimal(second["committed_kw"]) * Decimal("0.85"))
    push(network, second, "PARTIAL", short, devices_acked=4, settled_amount="7.25", shortfall_kwh="3.8")
    page.wait_for("document.querySelector('#event-detail').innerText.includes('Delivered')")
    detail = page.text("#event-detail")
    assert "Completed · Partial" in detail and "INR 11.75" in detail
    assert "Fell short: beta.aggregator by 3.8 kWh." in detail
    assert "Partial" in page.text("#events .badges")
    beta_card = "#orders article[aria-label='order with beta.aggregator']"
    assert page.text(f"{beta_card} .badge.outcome-PARTIAL") == "Partial"
    assert page.text(f"{beta_card} li.current") == "Partial"
    assert page.text(f"{beta_card} .shortfall") == "Fell short of its commitment by 3.8 kWh."

    push(network, second, "SETTLED", short, devices_acked=4, settled_amount="7.25", shortfall_kwh="3.8")
    badge = json.dumps(f"{beta_card} .badge.outcome")
    page.wait_for(
        f"document.querySelector({badge})?.innerText === 'Settled · Partial'", what="settled, still partial"
    )
    assert page.text(f"{beta_card} li.done.step-PARTIAL") == "Partial"
    assert page.text(f"{beta_card} li.current") == "Settled"
    assert page.text(f"{beta_card} .shortfall") == "Fell short of its commitment by 3.8 kWh."
    page.screenshot(screenshots / "console-settled-partial.png")


def test_on_a_narrow_screen_the_keyboard_approves(
    network: UtilityNetwork, page: Page, screenshots: Path
) -> None:
    page.viewport(390, 844)
    sign_in(page, network, OPERATOR_TOKEN)
    raise_grid_alert(network)
    page.wait_for("!!document.querySelector('button.approve')", what="the approve button")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the screen"
    page.screenshot(screenshots / "console-narrow.png")
    page.evaluate("document.querySelector('button.approve').focus()")
    page.press("Enter", code=13, text="\r")
    page.wait_for(
        "document.querySelectorAll('#orders article.order-ACTIVE').length === 2", what="two active orders"
    )


def test_a_viewer_sees_a_partial_cover_but_gets_no_decision_buttons(
    network_factory: Callable[..., UtilityNetwork], page: Page, screenshots: Path
) -> None:
    network = network_factory(
        {
            "alpha.aggregator": Script(offers=[Offer("alpha-batteries", Decimal("20"), Decimal("0.20"))]),
            "beta.aggregator": Script(offers=[Offer("beta-loads", Decimal("10"), Decimal("0.30"))]),
        }
    )
    sign_in(page, network, VIEWER_TOKEN)
    assert "viewer" in page.text("#whoami")
    raise_grid_alert(network)
    page.wait_for("document.querySelector('#event-detail').innerText.includes('An operator must approve')")
    assert page.evaluate("document.querySelectorAll('button.approve, button.decline').length") == 0
    gap = page.wait_for("document.querySelector('.coverage .gap')?.innerText", what="the gap")
    assert gap.startswith("Partial cover: 26.5 kW short of the target"), gap
    page.wait_for("document.querySelector('#alerts').innerText.includes('Shortfall')", what="the shortfall")
    page.type("#command", "yes, proceed", enter=True)
    page.wait_for("!!document.querySelector('#command-log .entry.error')", what="the refusal")
    assert "needs the operator role" in page.text("#command-log .entry.error")
    page.screenshot(screenshots / "console-viewer-partial.png")


def test_a_wrong_token_is_refused_and_the_operator_can_sign_in_again(
    network: UtilityNetwork, page: Page
) -> None:
    page.goto(network.bap.url + "/console")
    page.type("#token", "not-a-token-of-anyone-at-all", enter=True)
    page.wait_for("document.getElementById('login-error').textContent.includes('refused this token')")
    assert page.evaluate("sessionStorage.length") == 0, "a refused token is not kept"
    page.errors.clear()  # the refused handshake itself is logged by the browser
    page.type("#token", OPERATOR_TOKEN, enter=True)
    page.wait_for("document.getElementById('connection').textContent === 'Connected'")
    stored = page.evaluate("JSON.stringify(Object.values(sessionStorage))")
    assert json.loads(stored) == [OPERATOR_TOKEN]
