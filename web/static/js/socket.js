// The event socket: hello with resume_from, automatic reconnect with exponential backoff,
// request/reply by `ref`, and a heartbeat that notices a dead connection.

const FATAL = { 4401: "unauthorized", 4403: "removed", 4404: "not_found" };
const HEARTBEAT_MS = 25000;
const HEARTBEAT_TIMEOUT_MS = 10000;

export class SocketError extends Error {
  constructor(code, message, frame = null) {
    super(message || code);
    this.code = code;
    this.frame = frame;  // the whole error frame: extras such as a conflict's `current`
  }
}

export class EventSocket {
  /**
   * @param {object} o
   * @param {string} o.url            ws(s)://host/ws/events/ID
   * @param {string} o.token
   * @param {() => number|null} o.resumeFrom   last seq seen, or null for a full state
   * @param {(frame) => void} o.onFrame       every event and `ready`
   * @param {(status) => void} o.onStatus     connecting | connected | reconnecting | offline
   * @param {(reason) => void} o.onFatal      unauthorized | not_found: no reconnect
   */
  constructor({ url, token, resumeFrom, onFrame, onStatus, onFatal }) {
    Object.assign(this, { url, token, resumeFrom, onFrame, onStatus, onFatal });
    this.ws = null;
    this.attempt = 0;
    this.stopped = true;
    this.everReady = false;
    this.status = null;
    this._nextRef = 1;
    this._pending = new Map();
    this._retryTimer = null;
    this._heartbeat = null;
    this._onOnline = () => this._online();
    this._onOffline = () => this._offline();
  }

  start() {
    this.stopped = false;
    window.addEventListener("online", this._onOnline);
    window.addEventListener("offline", this._onOffline);
    this._connect();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener("online", this._onOnline);
    window.removeEventListener("offline", this._onOffline);
    clearTimeout(this._retryTimer);
    this._drop("stopped");
  }

  get connected() {
    return this.status === "connected";
  }

  /** Send a command; resolves with the `ok` frame, rejects with SocketError(code). */
  request(type, body = {}) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN || !this.connected) {
      return Promise.reject(new SocketError("offline"));
    }
    const ref = this._nextRef++;
    return new Promise((resolve, reject) => {
      this._pending.set(ref, { resolve, reject });
      this.ws.send(JSON.stringify({ ...body, type, ref }));
    });
  }

  // -- internals ----------------------------------------------------------------------
  _connect() {
    clearTimeout(this._retryTimer);
    if (this.stopped) return;
    if (!this.everReady) this._setStatus("connecting");
    else if (navigator.onLine === false) this._setStatus("offline");
    else this._setStatus("reconnecting");
    let ws;
    try {
      ws = new WebSocket(this.url);
    } catch {
      this._scheduleRetry();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      const hello = { type: "hello", token: this.token };
      const from = this.resumeFrom();
      if (typeof from === "number" && from > 0) hello.resume_from = from;
      ws.send(JSON.stringify(hello));
    };
    ws.onmessage = (msg) => this._receive(msg.data);
    ws.onclose = (ev) => this._closed(ws, ev.code);
    ws.onerror = () => { /* onclose follows and decides */ };
  }

  _receive(data) {
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    if ((frame.type === "ok" || frame.type === "error") && frame.ref !== undefined && frame.ref !== null) {
      const waiter = this._pending.get(frame.ref);
      if (waiter) {
        this._pending.delete(frame.ref);
        if (frame.type === "ok") waiter.resolve(frame);
        else waiter.reject(new SocketError(frame.code, frame.message, frame));
      }
      return;
    }
    if (frame.type === "error") return;  // e.g. unauthorized before close 4401
    if (frame.type === "ready") {
      this.attempt = 0;
      this.everReady = true;
      this._setStatus("connected");
      this._startHeartbeat();
    }
    this.onFrame(frame);
  }

  _closed(ws, code) {
    if (ws !== this.ws) return;  // an old socket we already gave up on
    this._cleanup();
    if (this.stopped) return;
    if (FATAL[code]) {
      this.stopped = true;
      this.onFatal(FATAL[code]);
      return;
    }
    // 4408 (too slow) and 4400 (no hello in time) mean: come back at once and resume.
    this._scheduleRetry(code === 4408 || code === 4400 ? 0.2 : null);
  }

  _scheduleRetry(fixedSeconds = null) {
    if (this.stopped) return;
    this._setStatus(navigator.onLine === false ? "offline" : (this.everReady ? "reconnecting" : "connecting"));
    const base = Math.min(15, 0.5 * 2 ** this.attempt);
    this.attempt += 1;
    const seconds = fixedSeconds ?? base * (0.8 + Math.random() * 0.4);
    this._retryTimer = setTimeout(() => this._connect(), seconds * 1000);
  }

  // The browser says the network is gone: the socket is as good as dead, so drop it now
  // (instead of waiting for a heartbeat to time out) and come back on "online".
  _offline() {
    if (this.stopped) return;
    this._drop("offline");
    this._scheduleRetry();
  }

  _online() {
    if (this.stopped) return;
    if (this.status === "connected") return;
    this.attempt = 0;
    this._setStatus(this.everReady ? "reconnecting" : "connecting");
    if (!this.ws || this.ws.readyState === WebSocket.CLOSED) {
      clearTimeout(this._retryTimer);
      this._connect();
    }
  }

  _drop(reason) {
    const ws = this.ws;
    this._cleanup();
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
      try { ws.close(1000, reason); } catch { /* already closed */ }
    }
    this.ws = null;
  }

  _cleanup() {
    clearInterval(this._heartbeat);
    this._heartbeat = null;
    for (const waiter of this._pending.values()) waiter.reject(new SocketError("interrupted"));
    this._pending.clear();
  }

  _startHeartbeat() {
    clearInterval(this._heartbeat);
    this._heartbeat = setInterval(() => {
      if (!this.connected) return;
      let answered = false;
      this.request("ping").then(() => { answered = true; }, () => { answered = true; });
      setTimeout(() => {
        if (!answered && !this.stopped) {
          this._drop("heartbeat timeout");
          this._scheduleRetry(0);
        }
      }, HEARTBEAT_TIMEOUT_MS);
    }, HEARTBEAT_MS);
  }

  _setStatus(status) {
    if (status === this.status) return;
    this.status = status;
    this.onStatus(status);
  }
}

export function socketUrl(eventId) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws/events/${encodeURIComponent(eventId)}`;
}
