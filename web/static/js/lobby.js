// The waiting room. A person who waits sees only a calm page (title, the organizer's
// note, "please wait"); once admitted the full state is loaded with `state.sync`. A person
// who is declined or removed is told why and the page does not reconnect or ask to join
// again. Moderators get the waiting-room panel: admit or decline one by one, admit all,
// switch the waiting room on or off.

import { $, clear, h, show, setText } from "./dom.js";
import { t } from "./i18n.js";
import { isModerator } from "./state.js";
import { loadSession, saveSession } from "./session.js";
import { errorKey, makeResync } from "./resync.js";

const GONE = "forum-live:gone";

export function install({ store, socket, notify }) {
  const root = $("#event-root");
  const eventId = root.dataset.eventId;
  const inviteKey = new URLSearchParams(location.search).get("key") || "";
  const goneKey = `${GONE}:${eventId}:${inviteKey}`;
  const resync = makeResync(store, socket);

  const ui = {
    wait: $("#lobby-wait"),
    waitNote: $("#lobby-wait-note"),
    gone: $("#lobby-gone"),
    goneTitle: $("#lobby-gone-title"),
    goneReason: $("#lobby-gone-reason"),
    panel: $("#lobby-panel"),
    count: $("#lobby-count"),
    enabled: $("#lobby-enabled"),
    note: $("#lobby-note"),
    noteSave: $("#lobby-note-save"),
    empty: $("#lobby-empty"),
    list: $("#lobby-list"),
    admitAll: $("#lobby-admit-all"),
    status: $("#lobby-status"),
  };
  let gone = null;  // {kind: "removed"|"declined", reason}

  // -- model -------------------------------------------------------------------------
  store.onReset((model, state) => {
    const lobby = state.lobby || {};
    model.lobby = {
      enabled: Boolean(lobby.enabled),
      note: lobby.note || "",
      standing: lobby.standing || (state.me && state.me.standing) || "admitted",
      waiting: new Map((lobby.waiting || []).map((p) => [p.id, { ...p }])),
    };
  });
  store.on("lobby.waiting", (model, ev) => {
    model.lobby.waiting.set(ev.participant.id, { ...ev.participant });
  });
  for (const kind of ["lobby.admitted", "lobby.declined", "participant.removed"]) {
    store.on(kind, (model, ev) => { model.lobby.waiting.delete(ev.participant); });
  }
  store.on("lobby.returned", (model, ev) => {
    if (ev.participant === model.me.id) model.lobby.standing = "waiting";
    else model.lobby.waiting.set(ev.participant, { id: ev.participant, name: ev.name });
  });
  store.on("lobby.configured", (model, ev) => {
    model.lobby.enabled = Boolean(ev.enabled);
    if (ev.note !== null && ev.note !== undefined) model.lobby.note = ev.note;
  });

  // -- leaving for good ----------------------------------------------------------------
  function remember(kind, reason) {
    gone = { kind, reason: reason || "" };
    try { localStorage.setItem(goneKey, JSON.stringify(gone)); } catch { /* private mode */ }
  }

  function recalled() {
    try {
      const raw = localStorage.getItem(goneKey);
      const value = raw ? JSON.parse(raw) : null;
      return value && typeof value.kind === "string" ? value : null;
    } catch {
      return null;
    }
  }

  function showGone() {
    root.dataset.standing = "gone";
    show(ui.wait, false);
    show(ui.panel, false);
    for (const id of ["#join", "#live", "#me-box", "#conn-status"]) show($(id), false);
    setText(ui.goneTitle, t(gone.kind === "declined" ? "lobby.declined_title" : "moderation.removed_title"));
    setText(ui.goneReason, gone.reason ? t("moderation.reason", { reason: gone.reason }) : t("moderation.no_reason"));
    show(ui.gone, true);
    ui.gone.focus();
  }

  function leave(kind, reason) {
    remember(kind, reason);
    const s = socket();
    if (s) s.stop();  // the server closes with 4403 anyway: no reconnect
    showGone();
  }

  // -- waiting page and panel -------------------------------------------------------------
  function waiting() {
    return store.ready && store.model.lobby && store.model.lobby.standing === "waiting";
  }

  function render() {
    if (gone) {
      showGone();
      return;
    }
    const model = store.model;
    const isWaiting = waiting();
    root.dataset.standing = store.ready ? (isWaiting ? "waiting" : "admitted") : "";
    show(ui.wait, isWaiting);
    if (isWaiting) {
      setText(ui.waitNote, model.lobby.note);
      show(ui.waitNote, Boolean(model.lobby.note));
    }
    const moderator = store.ready && !isWaiting && isModerator(model);
    show(ui.panel, moderator);
    if (moderator) renderPanel(model);
  }

  function renderPanel(model) {
    const people = [...model.lobby.waiting.values()];
    ui.enabled.checked = model.lobby.enabled;
    if (document.activeElement !== ui.note) ui.note.value = model.lobby.note;
    setText(ui.count, people.length ? `(${t("lobby.waiting_count", { n: people.length })})` : "");
    clear(ui.list);
    for (const p of people) {
      ui.list.append(h("li", { class: "lobby-person", data: { participant: p.id } },
        h("span", { class: "lobby-person__name" }, p.name,
          p.organization ? h("span", { class: "lobby-person__org" }, p.organization) : null),
        h("span", { class: "lobby-person__actions" },
          h("button", {
            type: "button",
            class: "btn btn--small btn--primary",
            attrs: { "aria-label": t("lobby.admit_label", { name: p.name }) },
            on: { click: () => run("lobby.admit", { participants: [p.id] }) },
          }, t("lobby.admit")),
          h("button", {
            type: "button",
            class: "btn btn--small",
            attrs: { "aria-label": t("lobby.decline_label", { name: p.name }) },
            on: { click: () => decline(p) },
          }, t("lobby.decline")))));
    }
    show(ui.empty, people.length === 0);
    show(ui.admitAll, people.length > 1);
  }

  async function run(type, body) {
    try {
      await socket().request(type, body);
      return true;
    } catch (err) {
      notify(err.code === "conflict" ? t("lobby.err_conflict") : t(errorKey(err)));
      return false;
    }
  }

  function decline(p) {
    const reason = window.prompt(t("lobby.decline_prompt", { name: p.name }), "");
    if (reason === null) return;
    const body = { participant: p.id };
    if (reason.trim()) body.reason = reason.trim();
    run("lobby.decline", body);
  }

  ui.admitAll.addEventListener("click", () => run("lobby.admit", { all: true }));
  ui.enabled.addEventListener("change", async () => {
    if (!store.ready) return;
    const want = ui.enabled.checked;
    if (!(await run("lobby.configure", { enabled: want }))) ui.enabled.checked = !want;
  });
  ui.noteSave.addEventListener("click", async () => {
    if (!store.ready) return;
    if (await run("lobby.configure", { enabled: store.model.lobby.enabled, note: ui.note.value.trim() })) {
      notify(t("lobby.note_saved"));
    }
  });

  // -- what concerns me -------------------------------------------------------------------
  const mine = (ev) => store.ready && ev.participant === store.model.me.id;

  store.subscribe("lobby.admitted", async (ev) => {
    if (!mine(ev)) {
      setText(ui.status, t("lobby.admitted_notice", { name: ev.name }));
      return;
    }
    const session = loadSession(eventId, inviteKey);
    if (session) {
      session.participant = { ...session.participant, standing: "admitted" };
      saveSession(eventId, inviteKey, session);
    }
    if (waiting()) {
      await resync();
      notify(t("lobby.welcome"));
    }
  });
  store.subscribe("lobby.returned", async (ev) => {
    if (!mine(ev)) return;
    render();
    await resync();  // the waiting room's state: nothing of the event stays on screen
  });
  store.subscribe("lobby.declined", (ev) => { if (mine(ev)) leave("declined", ev.reason); });
  store.subscribe("participant.removed", (ev) => { if (mine(ev)) leave("removed", ev.reason); });
  store.subscribe("lobby.waiting", (ev) => {
    if (store.ready && isModerator(store.model)) notify(t("lobby.arrived_notice", { name: ev.participant.name }));
  });
  for (const topic of ["reset", "lobby.waiting", "lobby.admitted", "lobby.declined", "lobby.returned",
    "lobby.configured", "participant.removed"]) store.subscribe(topic, render);

  // Before the socket is ready: someone known to be waiting sees the waiting page at once.
  const saved = loadSession(eventId, inviteKey);
  if (saved && saved.participant && saved.participant.standing === "waiting") {
    root.dataset.standing = "waiting";
    show(ui.wait, true);
  }
}

/**
 * The socket was closed for good. 4403 (removed, declined) — and 4401 for someone who was
 * removed before (the token is refused from then on) — show why; true when handled here.
 */
export function refused(reason) {
  const root = $("#event-root");
  const inviteKey = new URLSearchParams(location.search).get("key") || "";
  let known = null;
  try {
    known = JSON.parse(localStorage.getItem(`${GONE}:${root.dataset.eventId}:${inviteKey}`) || "null");
  } catch { known = null; }
  if (reason !== "removed" && !(reason === "unauthorized" && known)) return false;
  const gone = known || { kind: "removed", reason: "" };
  root.dataset.standing = "gone";
  for (const id of ["#join", "#live", "#me-box", "#conn-status", "#lobby-wait", "#lobby-panel"]) show($(id), false);
  setText($("#lobby-gone-title"), t(gone.kind === "declined" ? "lobby.declined_title" : "moderation.removed_title"));
  setText($("#lobby-gone-reason"), gone.reason ? t("moderation.reason", { reason: gone.reason }) : t("moderation.no_reason"));
  show($("#lobby-gone"), true);
  return true;
}
