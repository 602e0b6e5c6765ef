// Draws the state into the page's fixed panels. Elements are built with `h` (text nodes only, never
// HTML strings); buttons carry `data-command` or `data-event`, and main.js handles their clicks.

import * as fmt from "./format.js";
import {
  FULFILMENT_STEPS,
  awaitingApproval,
  canDecide,
  eventList,
  eventOutcome,
  findEvent,
  fulfilmentIndex,
  offerRows,
  orderOutcome,
  shortOrders,
  shortfallKwh,
} from "./state.js";

export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "dataset") Object.assign(element.dataset, value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** What the aggregator's verdict means, shown with its badge. */
const OUTCOMES = {
  COMPLETED: "The aggregator's verdict: at least 95 % of the committed energy delivered",
  PARTIAL: "The aggregator's verdict: less than 95 % of the committed energy delivered",
};

const ALERT_KINDS = {
  grid_stress: "Grid stress",
  shortfall: "Shortfall",
  no_options: "No offers",
  aggregator_nack: "Aggregator refused",
  aggregator_silent: "Aggregator silent",
  callback_timeout: "No answer in time",
  quote_changed: "Quote changed",
  fallback: "Fallback",
  signature_failure: "Bad signature",
};

/**
 * Redraw every panel. Keyboard focus stays on the element with the same `data-key`; when that element is
 * gone (the Approve button once the event is activating), focus goes to the selected event.
 */
export function render(page, state, ui) {
  const focused = document.activeElement?.dataset?.key;
  const event = ui.selectedId ? findEvent(state, ui.selectedId) : null;
  page.events.replaceChildren(...eventItems(state, ui.selectedId));
  page.alerts.replaceChildren(...alertItems(state));
  page.detail.replaceChildren(...eventDetail(state, event, ui));
  page.offers.replaceChildren(...offersPanel(event));
  page.orders.replaceChildren(...orderCards(state, event, ui));
  placeOrders(page, event);
  renderLog(page.log, state);
  if (focused) (document.querySelector(`[data-key="${CSS.escape(focused)}"]`) ?? page.detailSection).focus();
}

export function renderConnection(page, state, connection) {
  page.connection.textContent = connection.text;
  page.connection.className = `connection ${connection.status}`;
  const operator = state.operator;
  page.whoami.hidden = !operator;
  if (operator) {
    page.whoami.replaceChildren(
      h("span", { class: "who" }, operator.name),
      " ",
      h("span", { class: `badge role-${operator.role}` }, operator.role),
    );
  }
}

/** Once an event has orders they matter most: their panel moves up, right under the event. */
function placeOrders(page, event) {
  const first = event?.orders.length ? page.ordersPanel : page.offersPanel;
  if (page.detailSection.nextElementSibling !== first) page.detailSection.after(first);
}

function eventItems(state, selectedId) {
  const events = eventList(state);
  if (!events.length) {
    return [h("li", { class: "empty" }, "No open events. A grid alert or a flexibility request opens one.")];
  }
  return events.map((event) =>
    h(
      "li",
      {},
      h(
        "button",
        {
          type: "button",
          class: `event is-${event.state}${event.id === selectedId ? " selected" : ""}`,
          "aria-current": event.id === selectedId ? "true" : null,
          dataset: { event: event.id, key: `event:${event.id}` },
        },
        h("span", { class: "event-node" }, event.grid_node ?? `event ${fmt.shortId(event.id)}`),
        h(
          "span",
          { class: "badges" },
          severityBadge(event.severity),
          stateBadge(event.state),
          eventOutcomeBadge(event),
        ),
        h(
          "span",
          { class: "event-need" },
          `need ${fmt.kw(event.required_kw)}${event.direction ? " " + event.direction.toLowerCase() : ""}`,
          " · ",
          fmt.windowText(event.window),
        ),
      ),
    ),
  );
}

function alertItems(state) {
  if (!state.alerts.length) return [h("li", { class: "empty" }, "No alerts.")];
  return state.alerts.map((alert) =>
    h(
      "li",
      { class: `alert sev-${alert.severity}` },
      h(
        "p",
        { class: "alert-head" },
        severityBadge(alert.severity),
        h("strong", {}, ALERT_KINDS[alert.kind] ?? fmt.label(alert.kind)),
        h("time", { datetime: alert.created_at, class: "muted" }, fmt.clock(alert.created_at)),
      ),
      h("p", { class: "alert-message" }, alert.message),
      alert.event_id && findEvent(state, alert.event_id)
        ? h(
            "button",
            { type: "button", class: "link", dataset: { event: alert.event_id, key: `alert:${alert.id}` } },
            `Show event ${fmt.shortId(alert.event_id)}`,
          )
        : null,
    ),
  );
}

function eventDetail(state, event, ui) {
  if (!event) {
    return [h("p", { class: "empty" }, "No event selected. Choose one from the list of events.")];
  }
  return [
    h(
      "div",
      { class: "event-head" },
      h("h3", {}, event.grid_node ?? `Event ${fmt.shortId(event.id)}`),
      severityBadge(event.severity),
      stateBadge(event.state),
      eventOutcomeBadge(event),
    ),
    h(
      "dl",
      { class: "facts" },
      fact("Need", `${fmt.kw(event.required_kw)} ${event.direction ? event.direction.toLowerCase() : ""}`),
      fact("Window", fmt.windowText(event.window)),
      fact("Max price", event.max_price ? `${fmt.number(event.max_price, 4)} /kWh` : "none"),
      fact("Source", event.source ? fmt.label(event.source) : "–"),
      fact("Event", h("code", {}, fmt.shortId(event.id))),
      event.decided_by ? fact("Decided by", event.decided_by) : null,
    ),
    stateNotice(state, event, ui),
  ];
}

function offersPanel(event) {
  if (!event) return [h("p", { class: "empty" }, "The offers of the selected event appear here.")];
  const recommendation = event.recommendation;
  return [
    recommendation ? coverage(recommendation) : null,
    offersTable(event),
    recommendation?.explanation
      ? h(
          "details",
          { class: "explanation" },
          h("summary", {}, "Why this recommendation"),
          h("p", {}, recommendation.explanation),
        )
      : null,
  ];
}

function stateNotice(state, event, ui) {
  if (awaitingApproval(event)) {
    const selections = event.recommendation.selections ?? [];
    const currency = event.offers[0]?.currency ?? "";
    if (!canDecide(state)) {
      return notice(
        "waiting",
        "Awaiting approval",
        "An operator must approve or decline; viewers can only read.",
      );
    }
    return h(
      "div",
      { class: "notice waiting", role: "group", "aria-labelledby": "approval-title" },
      h("p", { id: "approval-title", class: "notice-title" }, "Awaiting your approval"),
      h("p", {}, event.recommendation.prompt ?? "Approve to activate the recommendation."),
      h(
        "div",
        { class: "decide" },
        h(
          "button",
          {
            type: "button",
            class: "primary approve",
            disabled: !ui.online,
            dataset: { command: `approve ${event.id}`, key: `approve:${event.id}` },
          },
          `Approve: ${selections.length} offer(s), ${fmt.money(event.recommendation.cost, currency)}`,
        ),
        h(
          "button",
          {
            type: "button",
            class: "danger decline",
            disabled: !ui.online,
            dataset: { command: `decline ${event.id}`, key: `decline:${event.id}` },
          },
          "Decline",
        ),
      ),
    );
  }
  switch (event.state) {
    case "COLLECTING":
      return notice(
        "info",
        "Collecting offers",
        event.collect_until
          ? `Offers are taken until ${fmt.clock(event.collect_until)}.`
          : "Offers are coming in.",
      );
    case "ACTIVATING":
      return notice(
        "info",
        "Activating",
        "Selecting, initialising and confirming with each chosen aggregator.",
      );
    case "ACTIVE":
      return notice("ok", "Active", "Orders are confirmed; progress is shown below.");
    case "NO_OPTIONS":
      return notice("bad", "No offers", "No aggregator offered flexibility for this need.");
    case "FAILED":
      return notice("bad", "Activation failed", event.failure ?? "No aggregator confirmed; see the alerts.");
    case "DECLINED":
      return notice("muted", "Declined", event.decided_by ? `Declined by ${event.decided_by}.` : "Declined.");
    case "COMPLETED":
    case "CANCELLED":
      return completionNotice(event);
    default:
      return null;
  }
}

/** The event's end: totals from the `completed` message, and which orders fell short (as they stand now). */
function completionNotice(event) {
  const done = event.completion;
  if (!done) return notice("muted", fmt.label(event.state), "");
  const currency = event.orders[0]?.currency ?? event.offers[0]?.currency ?? "";
  const outcome = eventOutcome(event);
  const short = shortOrders(event).map((order) => {
    const kwh = shortfallKwh(order);
    return kwh ? `${order.aggregator_id} by ${fmt.kwh(kwh)}` : order.aggregator_id;
  });
  const verdict = short.length
    ? ` Fell short: ${short.join(", ")}.`
    : outcome === "COMPLETED"
      ? " Every order delivered its commitment."
      : "";
  return notice(
    outcome === "PARTIAL" ? "short" : event.state === "COMPLETED" ? "ok" : "muted",
    outcome && outcome !== done.state
      ? `${fmt.label(done.state)} · ${fmt.label(outcome)}`
      : fmt.label(done.state),
    `Delivered ${fmt.kw(done.delivered_kw)} of ${fmt.kw(done.committed_kw)} committed ` +
      `(${fmt.kwh(done.delivered_kwh)}), cost ${fmt.money(done.cost, currency)}.${verdict}`,
  );
}

function coverage(recommendation) {
  const required = recommendation.required_kw;
  const target = recommendation.target_kw;
  const expected = recommendation.expected_kw;
  const scale = Math.max(
    Number(required),
    Number(target),
    Number(expected),
    Number(recommendation.covered_kw),
  );
  const partial = Boolean(recommendation.partial) && Number(recommendation.gap_kw) > 0;
  const fill = h("span", { class: `fill ${partial ? "short" : "enough"}` });
  fill.style.width = `${fmt.share(expected, scale) * 100}%`;
  const need = h("span", { class: "marker need", title: `need ${fmt.kw(required)}` });
  need.style.left = `${fmt.share(required, scale) * 100}%`;
  const aim = h("span", { class: "marker target", title: `target ${fmt.kw(target)}` });
  aim.style.left = `${fmt.share(target, scale) * 100}%`;
  return h(
    "div",
    { class: "coverage" },
    h(
      "div",
      {
        class: "track",
        role: "img",
        "aria-label": `expected ${fmt.kw(expected)} of ${fmt.kw(target)} target, ${fmt.kw(required)} needed`,
      },
      fill,
      need,
      aim,
    ),
    h(
      "p",
      { class: "legend" },
      h("span", { class: `key ${partial ? "short" : "enough"}` }),
      `Expected ${fmt.kw(expected)} reliable (${fmt.kw(recommendation.covered_kw)} chosen)`,
      h("span", { class: "key need" }),
      `need ${fmt.kw(required)}`,
      h("span", { class: "key target" }),
      `target ${fmt.kw(target)}`,
    ),
    partial
      ? h(
          "p",
          { class: "gap" },
          `Partial cover: ${fmt.kw(recommendation.gap_kw)} short of the target. `,
          "The offers cannot cover this need.",
        )
      : h("p", { class: "covered" }, "Fully covered, with headroom."),
  );
}

function offersTable(event) {
  const rows = offerRows(event);
  if (!rows.length) {
    return h("p", { class: "empty" }, event.state === "COLLECTING" ? "No offers yet." : "No offers.");
  }
  const recommendation = event.recommendation;
  const currencies = new Set(rows.map(({ offer }) => offer.currency ?? ""));
  const currency = currencies.size === 1 ? [...currencies][0] : "";
  const price = (text, rowCurrency) => fmt.money(text, currency ? "" : rowCurrency);
  const inHeader = currency ? ` (${currency})` : "";
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "offers" },
      h("caption", { class: "visually-hidden" }, "Offers and the kW the recommendation takes from each"),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", { scope: "col" }, "Aggregator"),
          h("th", { scope: "col", class: "num" }, "Offered"),
          h("th", { scope: "col", class: "num" }, `Price /kWh${inHeader}`),
          h("th", { scope: "col", class: "num" }, "Reliability"),
          h("th", { scope: "col", class: "num" }, "Chosen"),
          h("th", { scope: "col", class: "num" }, `Cost${inHeader}`),
        ),
      ),
      h(
        "tbody",
        {},
        rows.map(({ offer, selection, exclusion }) =>
          h(
            "tr",
            { class: selection ? "chosen" : "not-chosen" },
            h("th", { scope: "row" }, offer.aggregator_id, h("span", { class: "sub" }, offer.item_id ?? "")),
            h("td", { class: "num" }, fmt.kw(offer.available_kw)),
            h("td", { class: "num" }, price(offer.price_per_kwh, offer.currency)),
            h("td", { class: "num" }, fmt.percent(offer.reliability)),
            h(
              "td",
              { class: "num" },
              selection
                ? [
                    fmt.kw(selection.kw),
                    h("span", { class: "sub" }, `expect ${fmt.kw(selection.expected_kw)}`),
                  ]
                : h("span", { class: "muted" }, exclusion ? `excluded: ${exclusion.reason}` : "not taken"),
            ),
            h("td", { class: "num" }, selection ? price(selection.cost, offer.currency) : "–"),
          ),
        ),
      ),
      recommendation
        ? h(
            "tfoot",
            {},
            h(
              "tr",
              {},
              h("th", { scope: "row", colspan: "4" }, "Recommendation"),
              h("td", { class: "num" }, fmt.kw(recommendation.covered_kw)),
              h("td", { class: "num" }, price(recommendation.cost, rows[0].offer.currency)),
            ),
          )
        : null,
    ),
  );
}

function orderCards(state, event, ui) {
  if (!event) return [h("p", { class: "empty" }, "Orders of the selected event appear here.")];
  if (!event.orders.length) {
    return [
      h(
        "p",
        { class: "empty" },
        "No orders yet. Approving the recommendation starts one order with each chosen aggregator.",
      ),
    ];
  }
  return event.orders.map((order) => orderCard(state, order, ui));
}

function orderCard(state, order, ui) {
  const scale = Math.max(
    Number(order.requested_kw ?? 0),
    Number(order.committed_kw ?? 0),
    Number(order.delivered_kw ?? 0),
  );
  const outcome = orderOutcome(order);
  return h(
    "article",
    { class: `order order-${order.state}`, "aria-label": `order with ${order.aggregator_id}` },
    h(
      "header",
      { class: "order-head" },
      h("h3", {}, order.aggregator_id ?? "aggregator"),
      stateBadge(order.state),
      orderOutcomeBadge(order, outcome),
      h(
        "span",
        { class: "muted" },
        order.bpp_order_id ? `order ${order.bpp_order_id}` : `#${fmt.shortId(order.id)}`,
      ),
      order.waiting_for ? h("span", { class: "waiting-for" }, `waiting for ${order.waiting_for}`) : null,
    ),
    timeline(order),
    h(
      "div",
      { class: "bars" },
      bar("Requested", order.requested_kw, scale, "requested"),
      bar("Committed", order.committed_kw, scale, "committed"),
      bar("Delivered", order.delivered_kw, scale, outcome === "PARTIAL" ? "delivered short" : "delivered"),
    ),
    outcome === "PARTIAL" ? shortfallNote(order) : null,
    h(
      "p",
      { class: "devices" },
      order.devices === null || order.devices === undefined ? "devices –" : `${order.devices} devices`,
      " · ",
      `${order.devices_acked ?? "–"} acked`,
      " · ",
      h(
        "span",
        { class: order.devices_opted_out > 0 ? "warn-text" : null },
        `${order.devices_opted_out ?? "–"} opted out`,
      ),
      order.delivered_kwh ? ` · ${fmt.kwh(order.delivered_kwh)} delivered` : null,
    ),
    orderMoney(order),
    order.failure_reason ? h("p", { class: "error-text" }, order.failure_reason) : null,
    order.state === "ACTIVE" && canDecide(state)
      ? h(
          "button",
          {
            type: "button",
            class: "quiet cancel",
            disabled: !ui.online,
            dataset: {
              command: `cancel ${order.id}`,
              confirm: "Cancel this order with the aggregator?",
              key: `cancel:${order.id}`,
            },
          },
          "Cancel order",
        )
      : null,
  );
}

/** Why a PARTIAL order is one: the settlement's shortfall and penalty, once it is settled. */
function shortfallNote(order) {
  const kwh = shortfallKwh(order);
  if (!kwh) {
    const later = order.settlement ? "" : "; the shortfall comes with the settlement";
    return h("p", { class: "shortfall" }, `Fell short of its commitment${later}.`);
  }
  const settlement = order.settlement;
  const penalty = fmt.positive(settlement.penalty_amount)
    ? `, penalty ${fmt.money(settlement.penalty_amount, settlement.currency ?? order.currency)}`
    : "";
  return h("p", { class: "shortfall" }, `Fell short of its commitment by ${fmt.kwh(kwh)}${penalty}.`);
}

function orderMoney(order) {
  const settlement = order.settlement;
  const quote = `Quote ${fmt.money(order.quoted_cost, order.currency)}`;
  if (!settlement) return h("p", { class: "money" }, quote, " · not settled yet");
  const currency = settlement.currency ?? order.currency;
  const net = fmt.money(settlement.net_amount ?? settlement.gross_amount, currency);
  const gross = settlement.gross_amount ? ` (gross ${fmt.money(settlement.gross_amount, currency)})` : "";
  return h("p", { class: "money" }, quote, h("span", { class: "settled" }, ` · settled ${net} net${gross}`));
}

function timeline(order) {
  const reached = fulfilmentIndex(order);
  return h(
    "ol",
    { class: "timeline", "aria-label": "fulfilment" },
    FULFILMENT_STEPS.map((step, index) => {
      const name = step === "COMPLETED" && orderOutcome(order) === "PARTIAL" ? "PARTIAL" : step;
      const status = index < reached ? "done" : index === reached ? "current" : "todo";
      return h(
        "li",
        { class: `${status} step-${name}`, "aria-current": status === "current" ? "step" : null },
        fmt.label(name),
      );
    }),
  );
}

function bar(name, value, scale, kind) {
  const fill = h("span", { class: `fill ${kind}` });
  fill.style.width = `${fmt.share(value ?? 0, scale) * 100}%`;
  return h(
    "div",
    { class: "bar-row" },
    h("span", { class: "bar-name" }, name),
    h("span", { class: "track small", "aria-hidden": "true" }, fill),
    h("span", { class: "bar-value" }, fmt.kw(value)),
  );
}

/** The log only grows: new entries are appended, so reading an older reply is not disturbed. */
function renderLog(list, state) {
  let last = Number(list.dataset.last ?? 0);
  if (last > state.logCount) {
    list.replaceChildren();
    last = 0;
  }
  const fresh = state.log.filter((entry) => entry.id > last);
  for (const entry of fresh) list.append(logEntry(entry));
  while (list.children.length > state.log.length) list.firstElementChild.remove();
  list.dataset.last = String(state.logCount);
  if (fresh.length) list.scrollTop = list.scrollHeight;
}

function logEntry(entry) {
  const tone =
    entry.kind === "sent"
      ? "sent"
      : entry.kind === "system"
        ? "system"
        : entry.ok
          ? "ok"
          : entry.kind === "error"
            ? "error"
            : "refused";
  return h(
    "li",
    { class: `entry ${tone}` },
    h("time", { datetime: entry.at ?? "", class: "muted" }, fmt.clock(entry.at)),
    h("span", { class: "text" }, entry.kind === "sent" ? `› ${entry.text}` : entry.text),
  );
}

function fact(name, value) {
  return h("div", {}, h("dt", {}, name), h("dd", {}, value));
}

function notice(tone, title, text) {
  return h(
    "div",
    { class: `notice ${tone}` },
    h("p", { class: "notice-title" }, title),
    text ? h("p", {}, text) : null,
  );
}

function severityBadge(severity) {
  return severity ? h("span", { class: `badge sev-${severity}` }, severity) : null;
}

function stateBadge(state) {
  return h("span", { class: `badge state state-${state}` }, fmt.label(state));
}

/**
 * The order's verdict with the fulfilment step it has reached ("Settled · Partial"): its state alone says
 * only that it ended. Left out while unknown, and when it would repeat the state badge.
 */
function orderOutcomeBadge(order, outcome) {
  if (!outcome) return null;
  const step = order.fulfillment_state;
  const text = step && step !== outcome ? `${fmt.label(step)} · ${fmt.label(outcome)}` : fmt.label(outcome);
  if (text === fmt.label(order.state)) return null;
  return h("span", { class: `badge outcome outcome-${outcome}`, title: OUTCOMES[outcome] ?? null }, text);
}

/** A finished event's outcome where it adds to its state: PARTIAL when any order fell short. */
function eventOutcomeBadge(event) {
  const outcome = eventOutcome(event);
  if (!outcome || outcome === event.state) return null;
  return h(
    "span",
    { class: `badge outcome outcome-${outcome}`, title: OUTCOMES[outcome] ?? null },
    fmt.label(outcome),
  );
}
