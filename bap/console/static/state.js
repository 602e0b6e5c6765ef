// The console's picture of the desk, rebuilt from each `snapshot` and changed by every later frame in
// `seq` order (docs/websocket.md). Pure functions over plain objects: no DOM, no socket, no clock.

import { positive } from "./format.js";

export const OPEN_STATES = new Set(["COLLECTING", "AWAITING_APPROVAL", "ACTIVATING", "ACTIVE"]);
const ACTIVATING_ORDERS = new Set(["SELECTING", "INITIALIZING", "CONFIRMING"]);
export const FULFILMENT_STEPS = ["SCHEDULED", "DISPATCHED", "IN_PROGRESS", "COMPLETED", "SETTLED"];
const VERDICTS = new Set(["COMPLETED", "PARTIAL"]);
const MAX_ALERTS = 50;
const MAX_LOG = 200;

/** What the BAP's event view says about an event that never changes once it is open. */
const EVENT_DETAILS = [
  "source",
  "severity",
  "grid_node",
  "location",
  "direction",
  "required_kw",
  "headroom",
  "max_price",
  "window",
  "note",
  "created_by",
  "created_at",
];

export function emptyState() {
  return {
    seq: 0,
    gap: null,
    synced: false,
    operator: null,
    help: "",
    events: [],
    alerts: [],
    log: [],
    logCount: 0,
  };
}

/**
 * The state after `frame`. A frame that is not the next one sets `gap` and nothing more is applied until
 * the next snapshot: the caller reconnects.
 */
export function applyFrame(state, frame) {
  if (frame.type === "snapshot") return fromSnapshot(state, frame);
  if (state.gap) return state;
  if (!state.synced || frame.seq !== state.seq + 1) {
    return { ...state, gap: { expected: state.seq + 1, got: frame.seq, type: frame.type } };
  }
  const next = { ...state, seq: frame.seq };
  const apply = HANDLERS[frame.type];
  return apply ? apply(next, frame.data ?? {}, frame.at) : next;
}

function fromSnapshot(state, frame) {
  const data = frame.data ?? {};
  const events = (data.events ?? []).map((event) => ({
    ...eventStub(event.id),
    ...event,
    offers: event.offers ?? [],
    orders: (event.orders ?? []).map((order) => ({ ...order })),
    detailed: true,
  }));
  const operator = data.operator ?? null;
  const fresh = {
    ...emptyState(),
    seq: frame.seq,
    synced: true,
    operator,
    help: data.help ?? "",
    events,
    alerts: (data.alerts ?? []).slice(0, MAX_ALERTS),
    log: state.log,
    logCount: state.logCount,
  };
  const who = operator ? `${operator.name} (${operator.role})` : "unknown operator";
  return addLog(fresh, {
    kind: "system",
    ok: true,
    text: `Connected as ${who}: ${events.length} open event(s).`,
    at: frame.at,
  });
}

const HANDLERS = {
  alert(state, alert) {
    const alerts = [alert, ...state.alerts.filter((known) => known.id !== alert.id)].slice(0, MAX_ALERTS);
    let next = { ...state, alerts };
    if (alert.event_id && alert.kind === "grid_stress") {
      next = withEvent(next, alert.event_id, (event) => ({
        ...event,
        severity: event.severity ?? alert.severity,
      }));
    }
    if (alert.event_id && alert.kind === "no_options" && findEvent(next, alert.event_id)) {
      next = withEvent(next, alert.event_id, (event) => ({ ...event, state: "NO_OPTIONS" }));
    }
    return next;
  },

  options(state, options) {
    return withEvent(state, options.event_id, (event) => ({
      ...event,
      grid_node: event.grid_node ?? options.grid_node,
      offers: options.offers ?? event.offers,
    }));
  },

  recommendation(state, recommendation) {
    return withEvent(state, recommendation.event_id, (event) => {
      const declinedBare = !recommendation.state && !("selections" in recommendation);
      const changed = "selections" in recommendation;
      return {
        ...event,
        grid_node: event.grid_node ?? recommendation.grid_node ?? null,
        required_kw: event.required_kw ?? recommendation.required_kw ?? null,
        recommendation: changed ? recommendation : event.recommendation,
        state: recommendation.state ?? (declinedBare ? "DECLINED" : event.state),
      };
    });
  },

  progress(state, progress) {
    return withEvent(state, progress.event_id, (event) => {
      const orders = upsertOrder(event.orders, progress.order_id, (order) => ({
        ...order,
        ...without(progress, ["order_id"]),
        id: progress.order_id,
      }));
      return { ...event, orders, state: stateFromOrders(event.state, orders) };
    });
  },

  participation(state, participation) {
    return withEvent(state, participation.event_id, (event) => ({
      ...event,
      orders: upsertOrder(event.orders, participation.order_id, (order) => ({
        ...order,
        aggregator_id: order.aggregator_id ?? participation.aggregator_id,
        devices: participation.devices,
        devices_acked: participation.devices_acked,
        devices_opted_out: participation.devices_opted_out,
      })),
    }));
  },

  completed(state, completion) {
    const verdicts = new Map((completion.order_outcomes ?? []).map((row) => [row.order_id, row.outcome]));
    return withEvent(state, completion.event_id, (event) => ({
      ...event,
      state: completion.state,
      orders: event.orders.map((order) =>
        verdicts.get(order.id) ? { ...order, outcome: verdicts.get(order.id) } : order,
      ),
      completion,
    }));
  },

  error(state, error, at) {
    let next = state;
    if (error.code === "activation_failed" && error.event_id) {
      next = withEvent(next, error.event_id, (event) => ({
        ...event,
        state: "FAILED",
        failure: error.message,
      }));
    }
    return addLog(next, {
      kind: "error",
      ok: false,
      command: error.command ?? null,
      text: error.message ?? error.code ?? "error",
      at,
    });
  },

  reply(state, reply, at) {
    return addLog(state, {
      kind: "reply",
      ok: Boolean(reply.ok),
      command: reply.command,
      text: reply.text,
      at,
    });
  },
};

/** An event's state after an order changed: approval is implied by orders, activation by their states. */
export function stateFromOrders(current, orders) {
  if (!OPEN_STATES.has(current)) return current;
  if (orders.some((order) => ACTIVATING_ORDERS.has(order.state))) return "ACTIVATING";
  if (orders.some((order) => order.state === "ACTIVE")) return "ACTIVE";
  return current === "ACTIVE" ? "ACTIVE" : "ACTIVATING";
}

/** The operator typed or clicked a command: it goes in the log before its reply. */
export function noteCommand(state, text, at) {
  return addLog(state, { kind: "sent", ok: true, text, at });
}

/** A local notice in the log (connection lost, token refused). */
export function noteSystem(state, text, at, ok = false) {
  return addLog(state, { kind: "system", ok, text, at });
}

/** Descriptive fields of an event fetched from `GET /api/flex-requests/{id}`; live fields stay as pushed. */
export function mergeDetails(state, view) {
  if (!findEvent(state, view.id)) return state;
  return withEvent(state, view.id, (event) => {
    const details = {};
    for (const key of EVENT_DETAILS) {
      if (view[key] !== undefined && view[key] !== null) details[key] = view[key];
    }
    return { ...event, ...details, detailed: true };
  });
}

export function findEvent(state, id) {
  return state.events.find((event) => event.id === id) ?? null;
}

/** Open events first (awaiting approval on top), then the ones that ended, newest first within each. */
export function eventList(state) {
  const rank = (event) => (event.state === "AWAITING_APPROVAL" ? 0 : OPEN_STATES.has(event.state) ? 1 : 2);
  return [...state.events].sort(
    (a, b) => rank(a) - rank(b) || String(b.created_at ?? "~").localeCompare(String(a.created_at ?? "~")),
  );
}

/** The operator may approve, decline, adjust and cancel (viewers only read). */
export function canDecide(state) {
  const role = state.operator?.role;
  return role === "operator" || role === "admin";
}

export function awaitingApproval(event) {
  return Boolean(event && event.state === "AWAITING_APPROVAL" && event.recommendation);
}

/**
 * Offers joined with what the recommendation takes from each (by offer id), in a fixed order (aggregator,
 * item) so rows do not jump about as offers arrive.
 */
export function offerRows(event) {
  const selections = new Map((event.recommendation?.selections ?? []).map((s) => [s.option_id, s]));
  const excluded = new Map((event.recommendation?.excluded ?? []).map((x) => [x.option_id, x]));
  const key = (offer) => `${offer.aggregator_id}\u0000${offer.item_id ?? ""}\u0000${offer.id}`;
  const offers = [...event.offers].sort((a, b) => key(a).localeCompare(key(b)));
  return offers.map((offer) => ({
    offer,
    selection: selections.get(offer.id) ?? null,
    exclusion: excluded.get(offer.id) ?? null,
  }));
}

/** How far an order's fulfilment got: index in FULFILMENT_STEPS (COMPLETED stands for PARTIAL too). */
export function fulfilmentIndex(order) {
  const code = order.fulfillment_state === "PARTIAL" ? "COMPLETED" : order.fulfillment_state;
  return FULFILMENT_STEPS.indexOf(code);
}

/**
 * The aggregator's verdict on an order, COMPLETED or PARTIAL, kept once SETTLED follows; null until it
 * says. `state` COMPLETED only means the order ended (docs/bap.md, Outcome).
 */
export function orderOutcome(order) {
  if (order.outcome) return order.outcome;
  return VERDICTS.has(order.fulfillment_state) ? order.fulfillment_state : null;
}

/** The kWh an order's settlement says it fell short by; null when not settled or nothing is short. */
export function shortfallKwh(order) {
  const shortfall = order.settlement?.shortfall_kwh;
  return positive(shortfall) ? String(shortfall) : null;
}

/** How the event went by the `completed` message: PARTIAL when any order fell short; null until then. */
export function eventOutcome(event) {
  return event.completion?.outcome ?? null;
}

/** The event's orders that fell short of their commitment, as they stand now (settled later or not). */
export function shortOrders(event) {
  return event.orders.filter((order) => orderOutcome(order) === "PARTIAL");
}

function eventStub(id) {
  return {
    id,
    source: null,
    state: "COLLECTING",
    severity: null,
    grid_node: null,
    direction: null,
    required_kw: null,
    window: null,
    created_at: null,
    recommendation: null,
    offers: [],
    orders: [],
    completion: null,
    failure: null,
    detailed: false,
  };
}

function withEvent(state, id, change) {
  if (!id) return state;
  const known = findEvent(state, id);
  const event = change(known ?? eventStub(id));
  const events = known ? state.events.map((e) => (e.id === id ? event : e)) : [...state.events, event];
  return { ...state, events };
}

function upsertOrder(orders, id, change) {
  const known = orders.find((order) => order.id === id);
  const order = change(known ?? { id });
  return known ? orders.map((o) => (o.id === id ? order : o)) : [...orders, order];
}

function addLog(state, entry) {
  const id = state.logCount + 1;
  return { ...state, log: [...state.log, { id, ...entry }].slice(-MAX_LOG), logCount: id };
}

function without(object, keys) {
  const copy = { ...object };
  for (const key of keys) delete copy[key];
  return copy;
}
