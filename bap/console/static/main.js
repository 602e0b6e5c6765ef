// Wires the page: sign-in with a token (kept in sessionStorage), the socket, the state, the view, and
// the operator's commands (typed, or sent by the buttons, which send the same text).

import { timeZone } from "./format.js";
import { ConsoleSocket, consoleUrl } from "./socket.js";
import {
  applyFrame,
  awaitingApproval,
  emptyState,
  eventList,
  findEvent,
  mergeDetails,
  noteCommand,
  noteSystem,
} from "./state.js";
import { render, renderConnection } from "./view.js";

const TOKEN_KEY = "degflex.console.token";
const TITLE = document.title;

const page = {
  login: document.getElementById("login"),
  loginForm: document.getElementById("login-form"),
  loginError: document.getElementById("login-error"),
  tokenInput: document.getElementById("token"),
  desk: document.getElementById("desk"),
  signOut: document.getElementById("sign-out"),
  connection: document.getElementById("connection"),
  whoami: document.getElementById("whoami"),
  zone: document.getElementById("zone"),
  events: document.getElementById("events"),
  alerts: document.getElementById("alerts"),
  detailSection: document.getElementById("detail"),
  detail: document.getElementById("event-detail"),
  offersPanel: document.getElementById("offers-panel"),
  offers: document.getElementById("offers"),
  ordersPanel: document.getElementById("orders-panel"),
  orders: document.getElementById("orders"),
  log: document.getElementById("command-log"),
  commandForm: document.getElementById("command-form"),
  command: document.getElementById("command"),
};

let state = emptyState();
const ui = { selectedId: null, online: false };
let connection = { status: "stopped", text: "Not connected" };
let socket = null;
let drawing = false;
const detailsAsked = new Set();
const history = [];
let recalled = null;

function now() {
  return new Date().toISOString();
}

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

function schedule() {
  if (drawing) return;
  drawing = true;
  requestAnimationFrame(() => {
    drawing = false;
    draw();
  });
}

function draw() {
  ui.online = connection.status === "online" && state.synced && !state.gap;
  page.desk.classList.toggle("stale", !ui.online);
  renderConnection(page, state, connection);
  render(page, state, ui);
  const waiting = state.events.filter(awaitingApproval).length;
  document.title = waiting ? `(${waiting} awaiting approval) ${TITLE}` : TITLE;
}

function onFrame(frame) {
  const next = applyFrame(state, frame);
  if (next.gap && !state.gap) {
    const { expected, got } = next.gap;
    state = noteSystem(next, `Expected frame ${expected}, got ${got}: taking a fresh snapshot.`, now());
    socket.restart("gap in seq");
  } else {
    state = next;
  }
  if (frame.type === "snapshot") socket.synced();
  if (!ui.selectedId || !findEvent(state, ui.selectedId)) ui.selectedId = eventList(state)[0]?.id ?? null;
  askForDetails();
  schedule();
}

function onStatus(status) {
  const lost = connection.status === "online" && status.status !== "online";
  connection = status;
  if (status.status !== "online") state = { ...state, synced: false };
  if (lost) state = noteSystem(state, `${status.text}. What you see may be out of date.`, now());
  if (status.status === "refused") {
    signOut("The BAP refused this token. Check it and sign in again.");
    return;
  }
  schedule();
}

/** Events first seen in a live frame lack their window and severity: read them once from the API. */
function askForDetails() {
  for (const event of state.events) {
    if (event.detailed || detailsAsked.has(event.id)) continue;
    detailsAsked.add(event.id);
    fetch(`/api/flex-requests/${encodeURIComponent(event.id)}`, { headers: bearer() })
      .then((response) => (response.ok ? response.json() : null))
      .then((view) => {
        if (view) {
          state = mergeDetails(state, view);
          schedule();
        }
      })
      .catch(() => detailsAsked.delete(event.id));
  }
}

function bearer() {
  return { Authorization: `Bearer ${token()}` };
}

/** A handshake that failed: a refused token (401 on the API too), or a BAP that is not there. */
async function probe() {
  try {
    const response = await fetch("/api/alerts?limit=1", { headers: bearer() });
    return response.status === 401 ? "refused" : "ok";
  } catch {
    return "unreachable";
  }
}

function sendCommand(text) {
  const command = text.trim();
  if (!command) return false;
  if (!socket || !ui.online || !socket.send(command)) {
    state = noteSystem(state, `Not sent, not connected: ${command}`, now());
    schedule();
    return false;
  }
  state = noteCommand(state, command, now());
  if (history.at(-1) !== command) history.push(command);
  recalled = null;
  schedule();
  return true;
}

function signIn(value) {
  sessionStorage.setItem(TOKEN_KEY, value);
  state = emptyState();
  ui.selectedId = null;
  detailsAsked.clear();
  page.login.hidden = true;
  page.desk.hidden = false;
  page.signOut.hidden = false;
  socket = new ConsoleSocket({ url: consoleUrl(window.location, value), onFrame, onStatus, probe });
  socket.start();
  page.command.focus();
}

function signOut(message = "") {
  const current = socket;
  socket = null;
  current?.stop();
  sessionStorage.removeItem(TOKEN_KEY);
  state = emptyState();
  connection = { status: "stopped", text: "Not connected" };
  page.desk.hidden = true;
  page.signOut.hidden = true;
  page.login.hidden = false;
  page.loginError.textContent = message;
  page.tokenInput.value = "";
  page.tokenInput.focus();
  draw();
}

page.loginForm.addEventListener("submit", (submitted) => {
  submitted.preventDefault();
  const value = page.tokenInput.value.trim();
  if (value) signIn(value);
});

page.signOut.addEventListener("click", () => signOut());

page.commandForm.addEventListener("submit", (submitted) => {
  submitted.preventDefault();
  if (sendCommand(page.command.value)) page.command.value = "";
});

page.command.addEventListener("keydown", (key) => {
  if (key.key !== "ArrowUp" && key.key !== "ArrowDown") return;
  if (!history.length) return;
  key.preventDefault();
  const last = history.length - 1;
  if (key.key === "ArrowUp") recalled = recalled === null ? last : Math.max(0, recalled - 1);
  else recalled = recalled === null || recalled >= last ? null : recalled + 1;
  page.command.value = recalled === null ? "" : history[recalled];
});

document.addEventListener("click", (clicked) => {
  const target = clicked.target.closest("[data-command], [data-event]");
  if (!target || target.disabled) return;
  if (target.dataset.command) {
    if (target.dataset.confirm && !window.confirm(target.dataset.confirm)) return;
    sendCommand(target.dataset.command);
    return;
  }
  ui.selectedId = target.dataset.event;
  draw();
  if (!target.closest("#events")) page.detailSection.focus();
});

page.zone.textContent = `Times in ${timeZone()}`;
if (token()) signIn(token());
else signOut();
