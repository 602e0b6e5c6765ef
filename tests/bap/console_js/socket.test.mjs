// Reconnection of the console socket, with a scripted WebSocket and a hand-driven clock.

import assert from "node:assert/strict";
import { afterEach, beforeEach, test } from "node:test";

import { ConsoleSocket, UNAUTHORIZED, consoleUrl } from "../../../bap/console/static/socket.js";

class FakeWebSocket {
  static OPEN = 1;
  static made = [];

  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    this.closedWith = null;
    this.listeners = {};
    FakeWebSocket.made.push(this);
  }

  addEventListener(type, listener) {
    (this.listeners[type] ??= []).push(listener);
  }

  emit(type, event = {}) {
    for (const listener of this.listeners[type] ?? []) listener(event);
  }

  open() {
    this.readyState = FakeWebSocket.OPEN;
    this.emit("open");
  }

  receive(frame) {
    this.emit("message", { data: typeof frame === "string" ? frame : JSON.stringify(frame) });
  }

  /** The server (or the network) ends the connection. */
  drop(code) {
    this.readyState = 3;
    this.emit("close", { code });
  }

  send(text) {
    this.sent.push(text);
  }

  close(code) {
    this.closedWith = code;
    this.drop(code ?? 1005);
  }
}

let timers;
let saved;

beforeEach(() => {
  FakeWebSocket.made = [];
  timers = [];
  saved = { WebSocket: globalThis.WebSocket, setTimeout: globalThis.setTimeout, random: Math.random };
  globalThis.WebSocket = FakeWebSocket;
  globalThis.setTimeout = (callback, ms) => timers.push({ callback, ms }) && timers.length;
  Math.random = () => 0.5;
});

afterEach(() => {
  globalThis.WebSocket = saved.WebSocket;
  globalThis.setTimeout = saved.setTimeout;
  Math.random = saved.random;
});

const tick = () => new Promise((resolve) => setImmediate(resolve));

function fire() {
  const timer = timers.shift();
  assert.ok(timer, "a reconnection was scheduled");
  timer.callback();
  return timer.ms;
}

function socket(options = {}) {
  const frames = [];
  const statuses = [];
  const connection = new ConsoleSocket({
    url: "ws://bap/api/ws?token=t",
    onFrame: (frame) => frames.push(frame),
    onStatus: (status) => statuses.push(status.status),
    ...options,
  });
  return { connection, frames, statuses };
}

test("the URL follows the page's scheme and escapes the token", () => {
  assert.equal(
    consoleUrl({ protocol: "https:", host: "bap.example" }, "a b&c"),
    "wss://bap.example/api/ws?token=a%20b%26c",
  );
  assert.equal(
    consoleUrl({ protocol: "http:", host: "127.0.0.1:8000" }, "t"),
    "ws://127.0.0.1:8000/api/ws?token=t",
  );
});

test("frames are passed on; a lost connection comes back after growing delays", async () => {
  const { connection, frames, statuses } = socket();
  connection.start();
  const first = FakeWebSocket.made[0];
  first.open();
  first.receive({ type: "snapshot", seq: 1, data: {} });
  assert.deepEqual(frames, [{ type: "snapshot", seq: 1, data: {} }]);
  assert.equal(connection.send("status"), true);
  assert.deepEqual(first.sent, ["status"]);

  first.drop(1006);
  await tick();
  assert.equal(statuses.at(-1), "waiting");
  assert.equal(connection.send("status"), false, "nothing is sent while disconnected");
  const delays = [fire()];
  for (let attempt = 0; attempt < 3; attempt += 1) {
    FakeWebSocket.made.at(-1).drop(1006);
    await tick();
    delays.push(fire());
  }
  assert.deepEqual(delays, [500, 1000, 2000, 4000]);

  connection.synced();
  FakeWebSocket.made.at(-1).open();
  FakeWebSocket.made.at(-1).drop(1013);
  await tick();
  assert.equal(fire(), 500, "a snapshot resets the backoff");
  assert.equal(FakeWebSocket.made.length, 6);
});

test("a restart after a gap closes the socket and reconnects", async () => {
  const { connection } = socket();
  connection.start();
  const first = FakeWebSocket.made[0];
  first.open();
  connection.restart("gap in seq");
  assert.equal(first.closedWith, 4000);
  await tick();
  fire();
  assert.equal(FakeWebSocket.made.length, 2);
});

test("close code 4401 means the token was refused: no reconnection", async () => {
  const { connection, statuses } = socket();
  connection.start();
  FakeWebSocket.made[0].drop(UNAUTHORIZED);
  await tick();
  assert.equal(statuses.at(-1), "refused");
  assert.equal(timers.length, 0);
});

test("a failed handshake asks the probe whether the token is the reason", async () => {
  const refused = socket({ probe: async () => "refused" });
  refused.connection.start();
  FakeWebSocket.made[0].drop(1006);
  await tick();
  assert.equal(refused.statuses.at(-1), "refused");
  assert.equal(timers.length, 0);

  const away = socket({ probe: async () => "unreachable" });
  away.connection.start();
  FakeWebSocket.made[1].drop(1006);
  await tick();
  assert.equal(away.statuses.at(-1), "waiting");
  assert.equal(timers.length, 1);
});

test("after stop nothing reconnects", async () => {
  const { connection, statuses } = socket();
  connection.start();
  FakeWebSocket.made[0].open();
  connection.stop();
  await tick();
  assert.equal(statuses.at(-1), "stopped");
  assert.equal(timers.length, 0);
});

test("a frame that is not JSON forces a fresh connection", async () => {
  const { connection, frames } = socket();
  connection.start();
  const first = FakeWebSocket.made[0];
  first.open();
  first.receive("not json");
  assert.equal(frames.length, 0);
  assert.equal(first.closedWith, 4000);
});
