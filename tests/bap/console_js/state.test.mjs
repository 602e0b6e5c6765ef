// The console's state reducer, frame by frame as docs/websocket.md describes them.

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  applyFrame,
  canDecide,
  emptyState,
  eventList,
  eventOutcome,
  findEvent,
  fulfilmentIndex,
  mergeDetails,
  noteCommand,
  offerRows,
  orderOutcome,
  shortOrders,
  shortfallKwh,
} from "../../../bap/console/static/state.js";

const EVENT = "75d558f9-6eda-4e0e-9c0f-bfee9e0ac2fc";
const ORDER = "f68c25a4-33ef-45a1-bbb2-e4c467d5ad8a";
const AT = "2026-11-21T06:37:21.921875+00:00";

function frames(...list) {
  let seq = 0;
  return list.map(([type, data]) => ({ type, seq: (seq += 1), at: AT, data }));
}

function run(list, state = emptyState()) {
  for (const frame of list) {
    const before = JSON.stringify(state);
    const next = applyFrame(state, frame);
    assert.equal(JSON.stringify(state), before, `applying ${frame.type} changed the state it was given`);
    state = next;
  }
  return state;
}

function snapshot(overrides = {}) {
  return [
    "snapshot",
    {
      operator: { name: "control-room", role: "operator" },
      events: [],
      alerts: [{ id: "a0", kind: "shortfall", severity: "high", message: "old", event_id: null }],
      help: "Commands: …",
      ...overrides,
    },
  ];
}

const offer = (id, aggregator, kw, price) => ({
  id,
  aggregator_id: aggregator,
  item_id: `${aggregator}-item`,
  available_kw: kw,
  price_per_kwh: price,
  currency: "INR",
  reliability: "0.9",
});

const recommendation = {
  event_id: EVENT,
  grid_node: "transformer:TX-17",
  state: "AWAITING_APPROVAL",
  requires_approval: true,
  prompt: "Reply 'yes, proceed' to activate, 'no' to decline, or 'show options'.",
  selections: [
    { option_id: "o-alpha", aggregator_id: "alpha.aggregator", kw: "40", expected_kw: "36", cost: "8" },
  ],
  covered_kw: "40",
  expected_kw: "36",
  required_kw: "45",
  target_kw: "49.5",
  cost: "8",
  partial: true,
  gap_kw: "13.5",
  excluded: [{ option_id: "o-gamma", aggregator_id: "gamma.aggregator", reason: "price above the cap" }],
};

const progress = (state, fulfillment = null, extra = {}) => ({
  event_id: EVENT,
  order_id: ORDER,
  aggregator_id: "alpha.aggregator",
  bpp_order_id: "ord-1",
  state,
  waiting_for: null,
  fulfillment_state: fulfillment,
  requested_kw: "40",
  committed_kw: "40",
  delivered_kw: null,
  ...extra,
});

test("a snapshot is the whole picture: who is connected, open events, alerts", () => {
  const event = {
    id: EVENT,
    state: "ACTIVE",
    grid_node: "transformer:TX-17",
    severity: "high",
    required_kw: "45",
    window: { start: "2026-11-21T17:00:00+00:00", end: "2026-11-21T18:00:00+00:00" },
    offers: [offer("o-alpha", "alpha.aggregator", "40", "0.2")],
    recommendation,
    orders: [{ id: ORDER, aggregator_id: "alpha.aggregator", state: "ACTIVE", settlement: null }],
  };
  const state = run(frames(snapshot({ events: [event] })));
  assert.equal(state.synced, true);
  assert.equal(state.seq, 1);
  assert.deepEqual(state.operator, { name: "control-room", role: "operator" });
  assert.equal(canDecide(state), true);
  assert.equal(findEvent(state, EVENT).detailed, true);
  assert.equal(findEvent(state, EVENT).orders[0].state, "ACTIVE");
  assert.equal(state.alerts[0].id, "a0");
  assert.match(state.log.at(-1).text, /Connected as control-room \(operator\): 1 open event/);
});

test("a viewer may not decide", () => {
  const state = run(frames(snapshot({ operator: { name: "auditor", role: "viewer" } })));
  assert.equal(canDecide(state), false);
});

test("a grid alert's event goes from offers to approval, activation, delivery and completion", () => {
  let state = run(
    frames(
      snapshot(),
      ["alert", { id: "a1", kind: "grid_stress", severity: "high", message: "TX-17", event_id: EVENT }],
      [
        "options",
        {
          event_id: EVENT,
          grid_node: "transformer:TX-17",
          offers: [offer("o-alpha", "alpha.aggregator", "40", "0.2")],
        },
      ],
      ["recommendation", recommendation],
    ),
  );
  let event = findEvent(state, EVENT);
  assert.deepEqual(
    state.alerts.map((alert) => alert.id),
    ["a1", "a0"],
    "newest first",
  );
  assert.equal(event.severity, "high");
  assert.equal(event.detailed, false, "window and need are still to be read from the API");
  assert.equal(event.state, "AWAITING_APPROVAL");
  assert.equal(event.required_kw, "45");
  assert.equal(event.recommendation.gap_kw, "13.5");

  const more = frames(
    snapshot(),
    ["progress", progress("SELECTING")],
    ["progress", progress("ACTIVE", "SCHEDULED")],
    ["progress", progress("ACTIVE", "IN_PROGRESS", { delivered_kw: "38" })],
    [
      "participation",
      {
        event_id: EVENT,
        order_id: ORDER,
        aggregator_id: "alpha.aggregator",
        devices: 4,
        devices_acked: 3,
        devices_opted_out: 1,
      },
    ],
    ["progress", progress("COMPLETED", "SETTLED", { delivered_kw: "40", settlement: { net_amount: "4.5" } })],
    [
      "completed",
      {
        event_id: EVENT,
        state: "COMPLETED",
        orders: [ORDER],
        committed_kw: "40",
        delivered_kw: "40",
        delivered_kwh: "40",
        cost: "4.5",
      },
    ],
  ).slice(1);
  const states = [];
  for (const [index, frame] of more.entries()) {
    state = applyFrame(state, { ...frame, seq: 5 + index });
    states.push(findEvent(state, EVENT).state);
  }
  assert.deepEqual(states, ["ACTIVATING", "ACTIVE", "ACTIVE", "ACTIVE", "ACTIVE", "COMPLETED"]);
  event = findEvent(state, EVENT);
  const [order] = event.orders;
  assert.equal(event.orders.length, 1);
  assert.equal(order.delivered_kw, "40");
  assert.deepEqual([order.devices, order.devices_acked, order.devices_opted_out], [4, 3, 1]);
  assert.equal(order.settlement.net_amount, "4.5");
  assert.equal(fulfilmentIndex(order), 4);
  assert.equal(event.completion.cost, "4.5");
  assert.equal(state.gap, null);
});

test("a gap in seq stops applying frames until a new snapshot", () => {
  let state = run(
    frames(snapshot(), ["alert", { id: "a1", kind: "fallback", severity: "medium", message: "m" }]),
  );
  state = applyFrame(state, {
    type: "alert",
    seq: 4,
    at: AT,
    data: { id: "a2", kind: "fallback", severity: "medium" },
  });
  assert.deepEqual(state.gap, { expected: 3, got: 4, type: "alert" });
  assert.equal(state.alerts[0].id, "a1", "the frame after the gap is not applied");
  state = applyFrame(state, {
    type: "alert",
    seq: 3,
    at: AT,
    data: { id: "a3", kind: "fallback", severity: "medium" },
  });
  assert.equal(state.alerts[0].id, "a1", "nor anything after it, even the frame that seemed missing");
  state = applyFrame(state, { type: "snapshot", seq: 1, at: AT, data: snapshot()[1] });
  assert.equal(state.gap, null);
  assert.equal(state.seq, 1);
});

test("a frame before any snapshot is a gap too", () => {
  const state = applyFrame(emptyState(), { type: "alert", seq: 1, at: AT, data: { id: "a1" } });
  assert.equal(state.gap.expected, 1);
  assert.equal(state.alerts.length, 0);
});

test("decline, a refused activation, replies and errors", () => {
  const state = run(
    frames(
      snapshot(),
      ["recommendation", { event_id: "declined-bare" }],
      [
        "recommendation",
        { ...recommendation, event_id: "declined-full", state: "DECLINED", requires_approval: false },
      ],
      [
        "error",
        { code: "activation_failed", event_id: EVENT, message: "no aggregator confirmed flexibility" },
      ],
      ["reply", { command: "status", ok: true, text: "1 open event(s).", data: {} }],
      ["error", { code: "forbidden", command: "approve", message: "auditor is a viewer" }],
    ),
  );
  assert.equal(findEvent(state, "declined-bare").state, "DECLINED");
  assert.equal(findEvent(state, "declined-full").state, "DECLINED");
  assert.equal(findEvent(state, EVENT).state, "FAILED");
  assert.equal(findEvent(state, EVENT).failure, "no aggregator confirmed flexibility");
  const log = state.log.slice(-3).map((entry) => [entry.kind, entry.ok, entry.text]);
  assert.deepEqual(log, [
    ["error", false, "no aggregator confirmed flexibility"],
    ["reply", true, "1 open event(s)."],
    ["error", false, "auditor is a viewer"],
  ]);
});

test("the command log survives a reconnection", () => {
  let state = run(frames(snapshot()));
  state = noteCommand(state, "status", AT);
  state = applyFrame(state, { type: "snapshot", seq: 1, at: AT, data: snapshot()[1] });
  assert.deepEqual(
    state.log.map((entry) => entry.kind),
    ["system", "sent", "system"],
  );
  assert.deepEqual(
    state.log.map((entry) => entry.id),
    [1, 2, 3],
  );
});

test("details read from the API fill in what a live event lacks, and change nothing live", () => {
  let state = run(frames(snapshot(), ["recommendation", recommendation]));
  state = mergeDetails(state, {
    id: EVENT,
    state: "COLLECTING",
    severity: "critical",
    window: { start: "2026-11-21T17:00:00+00:00", end: "2026-11-21T18:00:00+00:00" },
    required_kw: "45",
    offers: [],
    recommendation: null,
  });
  const event = findEvent(state, EVENT);
  assert.equal(event.severity, "critical");
  assert.equal(event.window.start, "2026-11-21T17:00:00+00:00");
  assert.equal(event.state, "AWAITING_APPROVAL", "the pushed state stays");
  assert.ok(event.recommendation, "the pushed recommendation stays");
  assert.equal(event.detailed, true);
  assert.equal(mergeDetails(state, { id: "unknown" }), state);
});

test("events awaiting approval come first; offers join their selections in a fixed order", () => {
  const state = run(
    frames(
      snapshot({
        events: [
          {
            id: "old-active",
            state: "ACTIVE",
            created_at: "2026-11-21T05:00:00+00:00",
            offers: [],
            orders: [],
          },
          {
            id: "new-active",
            state: "ACTIVE",
            created_at: "2026-11-21T06:00:00+00:00",
            offers: [],
            orders: [],
          },
        ],
      }),
      [
        "options",
        {
          event_id: EVENT,
          offers: [
            offer("o-gamma", "gamma.aggregator", "10", "0.9"),
            offer("o-beta", "beta.aggregator", "60", "0.3"),
            offer("o-alpha", "alpha.aggregator", "40", "0.2"),
          ],
        },
      ],
      ["recommendation", { ...recommendation, created_at: "2026-11-21T04:00:00+00:00" }],
    ),
  );
  assert.deepEqual(
    eventList(state).map((event) => event.id),
    [EVENT, "new-active", "old-active"],
  );
  const rows = offerRows(findEvent(state, EVENT));
  assert.deepEqual(
    rows.map((row) => [row.offer.aggregator_id, row.selection?.kw ?? null, row.exclusion?.reason ?? null]),
    [
      ["alpha.aggregator", "40", null],
      ["beta.aggregator", null, null],
      ["gamma.aggregator", null, "price above the cap"],
    ],
  );
});

test("a partial fulfilment counts as the completed step", () => {
  assert.equal(fulfilmentIndex({ fulfillment_state: "PARTIAL" }), 3);
  assert.equal(fulfilmentIndex({ fulfillment_state: null }), -1);
});

test("an order that fell short stays PARTIAL once SETTLED, and its event's completion says so", () => {
  const other = "0b6f6c1e-1f0a-4c53-9d7e-5d2c8f0e4a11";
  const settlement = { net_amount: "5.1", shortfall_kwh: "3.8", penalty_amount: "1.2", currency: "INR" };
  let state = run(
    frames(
      snapshot(),
      ["progress", progress("ACTIVE", "IN_PROGRESS", { outcome: null, delivered_kw: "30" })],
      ["progress", { ...progress("ACTIVE", "SCHEDULED"), order_id: other, aggregator_id: "beta.aggregator" }],
    ),
  );
  assert.equal(orderOutcome(findEvent(state, EVENT).orders[0]), null, "no verdict while it runs");

  const more = frames(
    snapshot(),
    ["progress", progress("COMPLETED", "PARTIAL", { outcome: "PARTIAL", delivered_kw: "34.2" })],
    ["progress", progress("COMPLETED", "SETTLED", { outcome: "PARTIAL", delivered_kw: "34.2", settlement })],
    [
      "progress",
      {
        ...progress("COMPLETED", "COMPLETED", { outcome: "COMPLETED", delivered_kw: "60" }),
        order_id: other,
        aggregator_id: "beta.aggregator",
      },
    ],
    [
      "completed",
      {
        event_id: EVENT,
        state: "COMPLETED",
        orders: [ORDER, other],
        committed_kw: "100",
        delivered_kw: "94.2",
        delivered_kwh: "94.2",
        cost: "12.35",
        outcome: "PARTIAL",
        order_outcomes: [
          { order_id: ORDER, aggregator_id: "alpha.aggregator", outcome: "PARTIAL", shortfall_kwh: "3.8" },
          { order_id: other, aggregator_id: "beta.aggregator", outcome: "COMPLETED", shortfall_kwh: null },
        ],
      },
    ],
  ).slice(1);
  for (const [index, frame] of more.entries()) state = applyFrame(state, { ...frame, seq: 4 + index });
  assert.equal(state.gap, null);
  const event = findEvent(state, EVENT);
  const [short, full] = event.orders;
  assert.deepEqual(
    [short.fulfillment_state, orderOutcome(short), shortfallKwh(short)],
    ["SETTLED", "PARTIAL", "3.8"],
  );
  assert.equal(fulfilmentIndex(short), 4);
  assert.deepEqual([orderOutcome(full), shortfallKwh(full)], ["COMPLETED", null]);
  assert.deepEqual([event.state, eventOutcome(event)], ["COMPLETED", "PARTIAL"]);
  assert.deepEqual(
    shortOrders(event).map((order) => order.aggregator_id),
    ["alpha.aggregator"],
  );
});

test("an order's outcome: its own, else the verdict its fulfilment state gives; settled in full is none short", () => {
  assert.equal(orderOutcome({ fulfillment_state: "PARTIAL" }), "PARTIAL", "a frame without `outcome`");
  assert.equal(orderOutcome({ fulfillment_state: "SETTLED", outcome: "PARTIAL" }), "PARTIAL");
  assert.equal(orderOutcome({ fulfillment_state: "SETTLED", outcome: null }), null);
  assert.equal(orderOutcome({ fulfillment_state: "IN_PROGRESS" }), null);
  assert.equal(shortfallKwh({ settlement: { shortfall_kwh: "0" } }), null);
  assert.equal(shortfallKwh({ settlement: null }), null);
  assert.equal(eventOutcome({ completion: null }), null);
});

test("the completed message fills in a verdict an order's progress did not bring", () => {
  const state = run(
    frames(
      snapshot(),
      ["progress", progress("COMPLETED", "SETTLED", { outcome: null })],
      [
        "completed",
        {
          event_id: EVENT,
          state: "COMPLETED",
          orders: [ORDER],
          outcome: "PARTIAL",
          order_outcomes: [{ order_id: ORDER, outcome: "PARTIAL", shortfall_kwh: null }],
        },
      ],
    ),
  );
  assert.equal(orderOutcome(findEvent(state, EVENT).orders[0]), "PARTIAL");
});
