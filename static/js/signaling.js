// The browser side of the signaling protocol (docs/signaling.md): one WebSocket to the hub,
// one JSON object per text frame. This module only moves messages; what they mean is decided
// by call.js, so the reconnect policy and the protocol stay separate.

const PING_EVERY_MS = 15000;
// A socket can stay "open" on a dead network for minutes; if nothing at all (not even a pong)
// arrives for this long, we declare it closed ourselves so the reconnect logic can start.
const SILENCE_LIMIT_MS = 45000;

/** ws: or wss: URL for a same-origin path, following the page's own protocol. */
export function socketUrl(path) {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${window.location.host}${path}`;
}

export class Signaling {
  /**
   * @param {string} path  e.g. /api/v1/meetings/abc-defg-hij/ws
   * @param {{onMessage: (msg: object) => void, onClose: (info: object) => void}} handlers
   */
  constructor(path, { onMessage, onClose }) {
    this.path = path;
    this.onMessage = onMessage;
    this.onClose = onClose;
    this.socket = null;
    this.opened = false;
    this.closed = false;
    this.lastHeard = 0;
    this.pingTimer = null;
  }

  /** Open the socket; resolves once open, rejects if it closes (or is refused) before that. */
  connect() {
    return new Promise((resolve, reject) => {
      let socket;
      try {
        socket = new WebSocket(socketUrl(this.path));
      } catch (error) {
        reject(error);
        return;
      }
      this.socket = socket;
      socket.addEventListener("open", () => {
        this.opened = true;
        this.lastHeard = Date.now();
        this.pingTimer = window.setInterval(() => this.keepAlive(), PING_EVERY_MS);
        resolve();
      });
      socket.addEventListener("message", (event) => {
        this.lastHeard = Date.now();
        this.receive(event.data);
      });
      socket.addEventListener("close", (event) => {
        // A refused upgrade (404, 403) shows up here as code 1006 without any "open".
        if (!this.opened) reject(new Error(`WebSocket closed before opening (${event.code})`));
        this.finish({ code: event.code, reason: event.reason, wasOpen: this.opened });
      });
      // "error" is always followed by "close", which does the work.
    });
  }

  receive(data) {
    if (typeof data !== "string") {
      console.warn("signaling: ignored a binary frame");
      return;
    }
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      console.warn("signaling: ignored a frame that is not JSON");
      return;
    }
    if (message && typeof message.type === "string") this.onMessage(message);
  }

  keepAlive() {
    if (Date.now() - this.lastHeard > SILENCE_LIMIT_MS) {
      console.warn("signaling: no message from the hub for too long; closing");
      this.close(4000, "silent");
      this.finish({ code: 4000, reason: "silent", wasOpen: true, silent: true });
      return;
    }
    this.send({ type: "ping" });
  }

  /** Send one message; false if the socket is not open (the caller decides whether it matters). */
  send(message) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  close(code = 1000, reason = "") {
    if (this.socket && this.socket.readyState <= WebSocket.OPEN) {
      try {
        this.socket.close(code, reason);
      } catch {
        this.socket.close();
      }
    }
  }

  /** Report the end of this socket once, and stop its timers. */
  finish(info) {
    if (this.closed) return;
    this.closed = true;
    window.clearInterval(this.pingTimer);
    this.onClose(info);
  }

  /** Stop reporting anything: used when the caller abandons this socket on purpose. */
  detach() {
    this.closed = true;
    window.clearInterval(this.pingTimer);
    this.close(1000, "bye");
  }
}
