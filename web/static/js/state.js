// The client-side model of one event and the dispatch of server events into it.
//
// Feature modules plug in with three calls:
//   store.onReset(fn(model, readyState))   build their part of the model from `ready.state`
//   store.on(kind, fn(model, event))       fold one event into the model
//   store.subscribe(kind | "reset" | "*", fn(event))   redraw after the model changed
// The store drops every event whose seq it has already seen, so replays after a
// reconnect can never apply anything twice.

export class Store {
  constructor() {
    this.model = null;
    this.seq = 0;
    this._reducers = new Map();
    this._resetters = [];
    this._listeners = new Map();
  }

  on(kind, reducer) {
    if (!this._reducers.has(kind)) this._reducers.set(kind, []);
    this._reducers.get(kind).push(reducer);
    return this;
  }

  onReset(resetter) {
    this._resetters.push(resetter);
    return this;
  }

  subscribe(topic, listener) {
    if (!this._listeners.has(topic)) this._listeners.set(topic, new Set());
    this._listeners.get(topic).add(listener);
    return () => this._listeners.get(topic).delete(listener);
  }

  get ready() {
    return this.model !== null;
  }

  /** Redraw from a full `ready.state` (first connect, or a resume the server refused). */
  reset(state, seq) {
    const model = {};
    for (const resetter of this._resetters) resetter(model, state);
    this.model = model;
    this.seq = seq;
    this._emit("reset", { type: "reset", seq });
  }

  /** Forget everything (e.g. "not you? join anew"). */
  clear() {
    this.model = null;
    this.seq = 0;
    this._emit("reset", { type: "reset", seq: 0 });
  }

  /** Fold one server event; false when it was already seen (or arrives before any state). */
  apply(event) {
    if (this.model === null || typeof event.seq !== "number" || event.seq <= this.seq) return false;
    this.seq = event.seq;
    for (const reducer of this._reducers.get(event.type) || []) reducer(this.model, event);
    this._emit(event.type, event);
    this._emit("*", event);
    return true;
  }

  /** `ready` after a resume: everything up to `seq` has been replayed. */
  advance(seq) {
    if (seq > this.seq) this.seq = seq;
  }

  _emit(topic, event) {
    for (const listener of this._listeners.get(topic) || []) {
      try {
        listener(event);
      } catch (err) {
        console.error("listener for", topic, "failed", err);
      }
    }
  }
}

/** The core every view needs: the event, me, rooms and where I am. */
export function installCore(store) {
  store.onReset((model, state) => {
    model.event = state.event || {};
    model.me = state.me || {};
    model.rooms = new Map((state.rooms || []).map((r) => [r.id, r]));
    model.myRoom = state.my_room || (state.me && state.me.room) || model.event.plenary_room;
  });
  store.on("participant.moved", (model, ev) => {
    if (ev.participant === model.me.id) {
      model.myRoom = ev.to;
      model.me.room = ev.to;
    }
  });
  store.on("event.ended", (model) => {
    model.event.status = "ended";
  });
}

export const isModerator = (model) => Boolean(model && model.me && model.me.role === "moderator");
