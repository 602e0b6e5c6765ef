// The console WebSocket, kept open: on any loss (BAP restart, 1013 "too far behind", a gap in `seq`) it
// reconnects with growing, jittered delays; a new connection starts with a snapshot, so nothing is lost.

export const UNAUTHORIZED = 4401;
const DELAYS = [0.5, 1, 2, 4, 8, 15, 30];
const RESTART = 4000;

export function consoleUrl(location, token) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/api/ws?token=${encodeURIComponent(token)}`;
}

export class ConsoleSocket {
  /**
   * onFrame(frame) for every frame; onStatus({status, text}) with status connecting | online | waiting |
   * refused | stopped; probe() → "refused" when a handshake that failed was a refused token.
   */
  constructor({ url, onFrame, onStatus, probe }) {
    this.url = url;
    this.onFrame = onFrame;
    this.onStatus = onStatus;
    this.probe = probe;
    this.socket = null;
    this.attempt = 0;
    this.timer = null;
    this.stopped = true;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.socket?.close(1000, "signed out");
    this.socket = null;
    this.onStatus({ status: "stopped", text: "Not connected" });
  }

  /** Drop this connection and take a fresh snapshot (after a gap in `seq`). */
  restart(reason) {
    if (this.stopped || !this.socket) return;
    this.socket.close(RESTART, reason.slice(0, 100));
  }

  /** Reset the backoff: the connection delivered its snapshot. */
  synced() {
    this.attempt = 0;
  }

  send(text) {
    if (this.socket?.readyState !== WebSocket.OPEN) return false;
    this.socket.send(text);
    return true;
  }

  connect() {
    clearTimeout(this.timer);
    this.onStatus({ status: "connecting", text: "Connecting…" });
    const socket = new WebSocket(this.url);
    let opened = false;
    this.socket = socket;
    socket.addEventListener("open", () => {
      opened = true;
      this.onStatus({ status: "online", text: "Connected" });
    });
    socket.addEventListener("message", (message) => {
      if (this.socket !== socket) return;
      let frame;
      try {
        frame = JSON.parse(message.data);
      } catch {
        this.restart("a frame that is not JSON");
        return;
      }
      this.onFrame(frame);
    });
    socket.addEventListener("close", (closed) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.closed(closed.code, opened);
    });
  }

  async closed(code, opened) {
    if (this.stopped) return;
    if (code === UNAUTHORIZED || (!opened && this.probe && (await this.probe()) === "refused")) {
      this.stopped = true;
      this.onStatus({ status: "refused", text: "Token refused" });
      return;
    }
    if (this.stopped) return;
    const base = DELAYS[Math.min(this.attempt, DELAYS.length - 1)];
    this.attempt += 1;
    const delay = base * (0.8 + Math.random() * 0.4);
    const why =
      code === 1013
        ? "fell behind"
        : code === 1001
          ? "BAP going away"
          : code === RESTART
            ? "resyncing"
            : "connection lost";
    this.onStatus({ status: "waiting", text: `${capitalised(why)}; reconnecting in ${Math.ceil(delay)} s` });
    this.timer = setTimeout(() => this.connect(), delay * 1000);
  }
}

function capitalised(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
