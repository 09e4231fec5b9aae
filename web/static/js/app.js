// Entry of the event page (/e/{id}#key=KEY): join form, then the live view.

import { $, show, setText } from "./dom.js";
import { loadCatalog, t } from "./i18n.js";
import { Store, installCore } from "./state.js";
import { EventSocket, socketUrl } from "./socket.js";
import { closeCookieSession, forgetSession, inviteKeyOf, joinPatiently, loadSession, openCookieSession, saveSession } from "./session.js";
import * as chat from "./chat.js";
import * as hands from "./hands.js";
import * as participants from "./participants.js";
import * as agenda from "./agenda.js";
import * as lobby from "./lobby.js";
import * as floor from "./floor.js";
import * as qa from "./qa.js";
import * as reactions from "./reactions.js";
import * as timers from "./timers.js";
import * as moderation from "./moderation.js";
import * as breakouts from "./breakouts.js";
import * as polls from "./polls.js";
import * as minutes from "./minutes.js";
import * as media from "./media.js";
import * as listening from "./listening.js";
import * as meeting from "./meeting.js";
import * as agendaRun from "./agenda_run.js";

// Feature modules; later ones (breakouts, polls, minutes, media) are added to this list.
const MODULES = [agenda, agendaRun, participants, hands, chat, breakouts, polls, minutes, lobby, floor, qa, reactions, timers, moderation, media, listening, meeting];

const root = $("#event-root");
const eventId = root.dataset.eventId;
const inviteKey = inviteKeyOf(location);
// The language switch is rendered by the server, which never sees the fragment: keep it.
for (const a of document.querySelectorAll(".lang-switch a")) {
  if (location.hash) a.setAttribute("href", a.getAttribute("href").split("#")[0] + location.hash);
}


const store = new Store();
let socket = null;
let session = null;

const ui = {
  join: $("#join"),
  joinForm: $("#join-form"),
  joinName: $("#join-name"),
  joinOrg: $("#join-org"),
  joinError: $("#join-error"),
  joinSubmit: $("#join-submit"),
  live: $("#live"),
  liveNotice: $("#live-notice"),
  pageNotice: $("#page-notice"),
  conn: $("#conn-status"),
  connText: $("#conn-text"),
  meBox: $("#me-box"),
  meName: $("#me-name"),
  notMe: $("#not-me"),
};

let noticeTimer = null;
function notify(text) {
  setText(ui.liveNotice, text);
  show(ui.liveNotice, Boolean(text));
  clearTimeout(noticeTimer);
  if (text) noticeTimer = setTimeout(() => show(ui.liveNotice, false), 8000);
}

function pageNotice(text) {
  setText(ui.pageNotice, text || "");
  show(ui.pageNotice, Boolean(text));
}

function setStatus(status) {
  ui.conn.dataset.state = status;
  setText(ui.connText, t(`status_${status}`));
  show(ui.conn, true);
}

// -- join --------------------------------------------------------------------------------
function showJoin(message = "") {
  show(ui.live, false);
  show(ui.meBox, false);
  show(ui.conn, false);
  show(ui.join, true);
  pageNotice(message);
  ui.joinName.focus();
}

function joinError(key) {
  setText(ui.joinError, key ? t(key) : "");
  show(ui.joinError, Boolean(key));
}

ui.joinForm.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const name = ui.joinName.value.trim();
  if (!name) {
    joinError("join_err_name");
    ui.joinName.setAttribute("aria-invalid", "true");
    ui.joinName.focus();
    return;
  }
  ui.joinName.removeAttribute("aria-invalid");
  joinError(null);
  ui.joinSubmit.disabled = true;
  setText(ui.joinSubmit, t("join_working"));
  try {
    const result = await joinPatiently(eventId, inviteKey, name, ui.joinOrg.value.trim(),
      (seconds) => {  // many people joining from one address: the server asks to wait
        setText(ui.joinError, t("join_busy", { seconds }));
        show(ui.joinError, true);
      });
    joinError(null);
    session = { token: result.token, participant: result.participant };
    saveSession(eventId, inviteKey, session);
    startLive();
  } catch (err) {
    joinError({ key: "join_err_key", network: "join_err_network", name: "join_err_name",
                not_found: "event_gone" }[err.message] || "join_err_generic");
  } finally {
    ui.joinSubmit.disabled = false;
    setText(ui.joinSubmit, t("join_submit"));
  }
});

ui.notMe.addEventListener("click", () => {
  stopLive();
  forgetSession(eventId, inviteKey);
  closeCookieSession(eventId);
  session = null;
  ui.joinName.value = "";
  ui.joinOrg.value = "";
  showJoin();
});

// -- live --------------------------------------------------------------------------------
// Direct frames (media signaling) are not journal events: no seq, never replayed.
const direct = new Map();
function onDirect(type, fn) {
  if (!direct.has(type)) direct.set(type, []);
  direct.get(type).push(fn);
}
// Each `ready` (the first and every reconnect), after the store took it: what belongs to
// the socket rather than to the event (a media peer) is set up again there.
const readyHooks = [];
function onReady(fn) {
  readyHooks.push(fn);
}

function onFrame(frame) {
  if (frame.type === "ready") {
    if (frame.resumed && store.ready) store.advance(frame.seq);
    else store.reset(frame.state || {}, frame.seq);
    for (const fn of readyHooks) fn(frame);
    return;
  }
  if (typeof frame.seq === "number") store.apply(frame);
  else for (const fn of direct.get(frame.type) || []) fn(frame);  // media.*: no seq, no replay
}

function onFatal(reason) {
  stopLive();
  if (lobby.refused(reason)) return;  // removed or declined: say why, no join form
  if (reason === "unauthorized") {
    forgetSession(eventId, inviteKey);
    session = null;
    showJoin(t("join_expired"));
  } else {
    show(ui.live, false);
    show(ui.meBox, false);
    show(ui.conn, false);
    pageNotice(t("event_gone"));
  }
}

function startLive() {
  pageNotice("");
  show(ui.join, false);
  show(ui.live, true);
  setText(ui.meName, session.participant.name);
  show(ui.meBox, true);
  openCookieSession(eventId, session.token);
  socket = new EventSocket({
    url: socketUrl(eventId),
    token: session.token,
    resumeFrom: () => (store.ready ? store.seq : null),
    onFrame,
    onStatus: setStatus,
    onFatal,
  });
  socket.start();
}

function stopLive() {
  if (socket) socket.stop();
  socket = null;
  store.clear();
}

store.subscribe("reset", () => {
  if (store.ready && store.model.me && store.model.me.name) setText(ui.meName, store.model.me.name);
});

// -- start -------------------------------------------------------------------------------
async function main() {
  await loadCatalog();
  installCore(store);
  const context = { store, socket: () => socket, notify, session: () => session, eventId, onDirect, onReady };
  for (const module of MODULES) module.install(context);

  session = inviteKey ? loadSession(eventId, inviteKey) : null;
  if (session) startLive();
  else if (!inviteKey) pageNotice(t("join_err_missing_key"));
  else showJoin();
}

main();
