// Breakout rooms: the moderators' panel (open dialog, one card per room, placement,
// broadcast, extend, close) and the participants' side (topic picker in self mode, "you are
// in room X" banner, countdown, one-minute warning, call a moderator, broadcasts).
//
// When I am moved to another room, the room-level state (chat, hands, minutes, polls) is
// loaded anew with `state.sync`; events that arrive while that request is under way are
// replayed on top of the fresh state, so nothing is lost and nothing applied twice.

import { $, clear, h, show, setText } from "./dom.js";
import { t } from "./i18n.js";
import { makeResync } from "./resync.js";
import { isModerator } from "./state.js";

const ERRORS = {
  conflict: "breakouts.err_conflict",
  forbidden: "err_forbidden",
  offline: "err_offline",
  interrupted: "err_offline",
  invalid: "breakouts.err_invalid",
  too_large: "breakouts.err_too_large",
  not_found: "breakouts.err_not_found",
};
const errorText = (err) => t(ERRORS[err && err.code] || "err_generic");

/** Remaining time of an ISO deadline as m:ss (against the local clock), or "" without one. */
export function remaining(endsAt, now = Date.now()) {
  if (!endsAt) return null;
  const ms = Date.parse(endsAt) - now;
  if (Number.isNaN(ms)) return null;
  const s = Math.max(0, Math.ceil(ms / 1000));
  return { seconds: s, text: `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}` };
}

/** Redraw inside `container` and give focus back to the control that had it (by data-fkey). */
export function keepFocus(container, redraw) {
  const active = document.activeElement;
  const key = active && container.contains(active) ? active.dataset.fkey : null;
  redraw();
  if (key) {
    const again = container.querySelector(`[data-fkey="${CSS.escape(key)}"]`);
    if (again && !again.disabled) again.focus();
  }
}

function closedView(rounds = 0) {
  return { status: "closed", rounds, rooms: [], help: new Map() };
}

export function install({ store, socket, notify, onDirect }) {
  // -- model -------------------------------------------------------------------------
  store.onReset((model, state) => {
    const b = state.breakouts || {};
    if (b.status !== "open") {
      model.breakouts = closedView(b.rounds || 0);
      return;
    }
    const help = new Map();
    for (const x of b.help || []) help.set(x.room, { participant: x.participant, name: null });
    model.breakouts = {
      status: "open", round: b.round, assign: b.assign, endsAt: b.ends_at, warned: b.warned,
      rooms: (b.rooms || []).map((r) => ({ ...r, open: r.open !== false, members: [...(r.members || [])],
        listeners: new Map((r.listening || []).map((x) => [x.participant, x.name])) })),
      help,
    };
  });
  store.on("breakouts.opened", (model, ev) => {
    model.breakouts = {
      status: "open", round: ev.round, assign: ev.assign, endsAt: ev.ends_at, warned: false,
      rooms: ev.rooms.map((r) => ({ ...r, count: 0, members: [], open: true, ends_at: ev.ends_at, listeners: new Map() })),
      help: new Map(),
    };
    for (const r of ev.rooms) model.rooms.set(r.id, { ...r });
  });
  store.on("participant.moved", (model, ev) => {
    const b = model.breakouts;
    if (b.status !== "open") return;
    for (const r of b.rooms) r.members = r.members.filter((p) => p !== ev.participant);
    const to = b.rooms.find((r) => r.id === ev.to);
    if (to) to.members.push(ev.participant);
  });
  store.on("breakouts.warning", (model, ev) => {
    if (model.breakouts.status !== "open" || ev.room) return;
    model.breakouts.warned = true;
    if (ev.ends_at) model.breakouts.endsAt = ev.ends_at;
  });
  store.on("breakouts.extended", (model, ev) => {
    if (model.breakouts.status !== "open") return;
    const own = ev.rooms || {};
    for (const r of model.breakouts.rooms) {
      if (own[r.id]) r.ends_at = own[r.id];
      else if (r.ends_at === model.breakouts.endsAt) r.ends_at = ev.ends_at;
    }
    model.breakouts.endsAt = ev.ends_at;
    model.breakouts.warned = false;
  });
  // One room on its own (BigBlueButton's per-room controls): extended, or closed.
  store.on("breakouts.room_extended", (model, ev) => {
    const room = model.breakouts.status === "open" && model.breakouts.rooms.find((r) => r.id === ev.room);
    if (room) room.ends_at = ev.ends_at;
  });
  store.on("breakouts.room_closed", (model, ev) => {
    const room = model.breakouts.status === "open" && model.breakouts.rooms.find((r) => r.id === ev.room);
    if (room) room.open = false;
    if (model.breakouts.help) model.breakouts.help.delete(ev.room);
  });
  store.on("breakouts.closed", (model, ev) => {
    for (const r of model.breakouts.rooms || []) model.rooms.delete(r.id);
    model.breakouts = closedView(ev.round);
  });
  store.on("help.requested", (model, ev) => {
    if (model.breakouts.status === "open") {
      model.breakouts.help.set(ev.room, { participant: ev.participant, name: ev.name });
    }
  });
  store.on("help.cleared", (model, ev) => {
    if (model.breakouts.status === "open") model.breakouts.help.delete(ev.room);
  });
  // Who listens in on which room: moderators get every room's `breakouts.listening`
  // (members only their own room's), so the cockpit shows where a colleague listens.
  store.on("breakouts.listening", (model, ev) => {
    const room = model.breakouts.status === "open" && model.breakouts.rooms.find((r) => r.id === ev.room);
    if (!room) return;
    if (!room.listeners) room.listeners = new Map();
    if (ev.listening) room.listeners.set(ev.participant, ev.name);
    else room.listeners.delete(ev.participant);
  });

  // -- helpers -------------------------------------------------------------------------
  const model = () => store.model;
  const open = () => store.ready && model().breakouts.status === "open";
  const roomIndex = (id) => (open() ? model().breakouts.rooms.findIndex((r) => r.id === id) : -1);
  const topicTitle = (id) => {
    const topic = (model().event.topics || []).find((x) => x.id === id);
    return topic ? topic.title : "";
  };
  const nameOf = (pid) => {
    const p = model().participants && model().participants.get(pid);
    return p ? p.name : null;
  };
  const isModeratorId = (pid) => {
    const p = model().participants && model().participants.get(pid);
    return Boolean(p && p.role === "moderator");
  };
  const seats = (room) => room.members.filter((p) => !isModeratorId(p)).length;
  const isFull = (room) => room.capacity != null && seats(room) >= room.capacity;
  const myBreakout = () => (open() ? model().breakouts.rooms.find((r) => r.id === model().myRoom && r.open) : null);
  const roomEnds = (room) => (room && room.ends_at !== undefined ? room.ends_at : model().breakouts.endsAt);
  // Listening in (moderators): the room whose mix and chat I follow from where I am.
  let listening = null; // { room, lines: [{author, text}] }
  const roomLabel = (room) => t("breakouts.room_n", { n: roomIndex(room.id) + 1, title: room.title });

  async function request(type, body, errorEl) {
    if (errorEl) show(errorEl, false);
    try {
      return await socket().request(type, body);
    } catch (err) {
      if (errorEl) {
        setText(errorEl, errorText(err));
        show(errorEl, true);
      } else {
        notify(errorText(err));
      }
      return null;
    }
  }

  // -- state.sync after my own move: the new room's chat, minutes and polls -----------
  const resync = makeResync(store, socket);

  // -- elements ----------------------------------------------------------------------
  const banner = $("#room-banner");
  const bannerText = $("#room-banner-text");
  const bannerTopic = $("#room-banner-topic");
  const bannerTime = $("#room-banner-time");
  const helpButton = $("#help-call");
  const helpNote = $("#help-note");
  const leaveButton = $("#room-leave");
  const warning = $("#breakout-warning");
  const broadcastBox = $("#broadcast-box");
  const broadcastText = $("#broadcast-text");
  const broadcastFrom = $("#broadcast-from");
  const broadcastDismiss = $("#broadcast-dismiss");
  const panel = $("#breakouts");
  const body = $("#breakouts-body");
  const chatTitle = $("#chat-title");
  let helpCalled = false;

  // Moderator: the open dialog (built once, so typing is never interrupted by a redraw).
  const openError = h("p", { class: "form-error", attrs: { role: "alert" }, hidden: true });
  const perTopic = h("input", { id: "bo-per-topic", type: "number", min: "1", max: "20", value: "1",
    attrs: { inputmode: "numeric", "aria-describedby": "bo-per-topic-hint" } });
  const perTopicHint = h("p", { id: "bo-per-topic-hint", class: "hint" });
  const duration = h("input", { id: "bo-duration", type: "number", min: "0.1", max: "1440", step: "any",
    value: "15", attrs: { inputmode: "decimal", "aria-describedby": "bo-duration-hint" } });
  const modeRadio = (value, checked) => h("label", { class: "choice" },
    h("input", { type: "radio", name: "bo-assign", value, checked }),
    h("span", {}, t(`breakouts.assign_${value}`)));
  const openSubmit = h("button", { type: "submit", class: "btn btn--primary" }, t("breakouts.open_submit"));
  const openForm = h("form", { class: "bo-open", attrs: { "aria-labelledby": "bo-open-title", novalidate: true } },
    h("h3", { id: "bo-open-title" }, t("breakouts.open_title")),
    h("p", { class: "hint" }, t("breakouts.open_lead")),
    h("div", { class: "form-row" },
      h("div", { class: "field field--num" },
        h("label", { htmlFor: "bo-per-topic" }, t("breakouts.per_topic")), perTopic, perTopicHint),
      h("div", { class: "field field--num" },
        h("label", { htmlFor: "bo-duration" }, t("breakouts.duration")), duration,
        h("p", { id: "bo-duration-hint", class: "hint" }, t("breakouts.duration_hint")))),
    h("fieldset", { class: "choices" },
      h("legend", {}, t("breakouts.assign")),
      modeRadio("self", true), modeRadio("auto", false), modeRadio("manual", false)),
    openError, openSubmit);

  function updatePerTopicHint() {
    const topics = store.ready ? (model().event.topics || []).length : 0;
    const n = Math.max(1, parseInt(perTopic.value, 10) || 1);
    setText(perTopicHint, t("breakouts.rooms_count", { n: topics * n }));
  }
  perTopic.addEventListener("input", updatePerTopicHint);

  openForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const n = parseInt(perTopic.value, 10);
    const assign = (openForm.querySelector("input[name=bo-assign]:checked") || {}).value || "self";
    const body_ = { assign, per_topic: Number.isFinite(n) && n > 0 ? Math.min(n, 20) : 1 };
    const raw = duration.value.trim().replace(",", ".");
    if (raw) {
      const minutes = Number(raw);
      if (!Number.isFinite(minutes) || minutes <= 0) {
        setText(openError, t("breakouts.err_duration"));
        show(openError, true);
        duration.focus();
        return;
      }
      body_.duration_s = Math.max(1, Math.round(minutes * 60));
    }
    openSubmit.disabled = true;
    const ok = await request("breakouts.open", body_, openError);
    openSubmit.disabled = false;
    if (ok) notify(t("breakouts.opened_notice"));
  });

  // Moderator: broadcast, extend, close (built once).
  const castInput = h("input", { id: "bo-broadcast", type: "text", maxLength: 2000, autocomplete: "off" });
  const castError = h("p", { class: "form-error", attrs: { role: "alert" }, hidden: true });
  const castForm = h("form", { class: "bo-broadcast" },
    h("label", { htmlFor: "bo-broadcast" }, t("breakouts.broadcast_label")),
    h("div", { class: "chat__compose" }, castInput,
      h("button", { type: "submit", class: "btn btn--primary" }, t("breakouts.broadcast_send"))),
    castError);
  castForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = castInput.value.trim();
    if (!text) return;
    if (await request("breakouts.broadcast", { text }, castError)) castInput.value = "";
  });
  const controlError = h("p", { class: "form-error", attrs: { role: "alert" }, hidden: true });
  const extendButton = h("button", { type: "button", class: "btn",
    attrs: { "aria-label": t("breakouts.extend_label") },
    on: { click: () => request("breakouts.extend", { seconds: 300 }, controlError) } }, t("breakouts.extend"));
  const closeButton = h("button", { type: "button", class: "btn btn--danger",
    on: { click: () => {
      if (window.confirm(t("breakouts.close_confirm"))) request("breakouts.close", {}, controlError);
    } } }, t("breakouts.close"));
  const modTime = h("p", { class: "bo-time", attrs: { role: "timer", "aria-live": "off" } });
  const modHead = h("p", { class: "bo-status" });
  const backButton = h("button", { type: "button", class: "btn", data: { fkey: "back" },
    on: { click: () => request("room.enter", { room: model().event.plenary_room }) } }, t("breakouts.to_plenary"));
  const cards = h("ul", { class: "bo-rooms", attrs: { "aria-label": t("breakouts.rooms_label") } });
  const placeList = h("ul", { class: "bo-place" });
  const placeError = h("p", { class: "form-error", attrs: { role: "alert" }, hidden: true });
  const place = h("details", { class: "bo-place-box" },
    h("summary", {}, t("breakouts.place_title")),
    h("p", { class: "hint" }, t("breakouts.place_hint")), placeError, placeList);
  const modOpen = h("div", { class: "bo-mod" },
    h("div", { class: "bo-bar" }, modHead, modTime,
      h("div", { class: "bo-bar__actions" }, backButton, extendButton, closeButton)),
    controlError, cards, h("div", { class: "bo-tools" }, castForm, place));

  // Participant: the picker (self mode) or a waiting note.
  const pickList = h("ul", { class: "bo-pick" });
  const pickError = h("p", { class: "form-error", attrs: { role: "alert" }, hidden: true });
  const pickTitle = h("h3", { id: "bo-pick-title" }, t("breakouts.pick_title"));
  const pickLead = h("p", { class: "lead" }, t("breakouts.pick_lead"));
  const pick = h("div", { class: "bo-picker", attrs: { role: "group", "aria-labelledby": "bo-pick-title" } },
    pickTitle, pickLead, pickError, pickList);
  const waiting = h("p", { class: "lead" }, t("breakouts.wait_assign"));

  // -- views -------------------------------------------------------------------------
  function memberNames(room) {
    return room.members.map((p) => ({ id: p, name: nameOf(p), moderator: isModeratorId(p) }))
      .filter((p) => p.name)
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  function drawCards() {
    const b = model().breakouts;
    clear(cards);
    b.rooms.forEach((room, i) => {
      const help = b.help.get(room.id);
      const here = model().myRoom === room.id;
      const people = memberNames(room);
      const topic = room.topic ? topicTitle(room.topic) : "";
      const count = seats(room);
      if (!room.open) {
        cards.append(h("li", { class: "bo-room bo-room--closed", data: { room: room.id } },
          h("h3", { class: "bo-room__title" }, t("breakouts.room_n", { n: i + 1, title: room.title })),
          h("p", { class: "muted" }, t("breakouts.room_closed"))));
        return;
      }
      const heard = listening && listening.room === room.id;
      const label = { n: i + 1, title: room.title };
      // colleagues listening in (myself only where this page does not show it already)
      const others = [...(room.listeners || new Map()).entries()]
        .filter(([pid]) => !(heard && pid === model().me.id))
        .map(([pid, name]) => name || nameOf(pid) || "").filter(Boolean)
        .sort((a, b) => a.localeCompare(b));
      const actions = h("div", { class: "bo-room__actions" },
        here
          ? h("p", { class: "bo-room__here" }, t("breakouts.you_are_here"))
          : h("button", { type: "button", class: help ? "btn btn--small btn--primary" : "btn btn--small",
            data: { fkey: `enter-${room.id}` },
            attrs: { "aria-label": t("breakouts.enter_label", label) },
            on: { click: () => request("room.enter", { room: room.id }, controlError) } }, t("breakouts.enter")),
        here ? null : h("button", { type: "button", class: "btn btn--small", data: { fkey: `listen-${room.id}` },
          attrs: { "aria-pressed": heard ? "true" : "false", "aria-label": t(heard ? "breakouts.listen_stop_label" : "breakouts.listen_label", label) },
          on: { click: () => listenTo(heard ? null : room.id) } }, t(heard ? "breakouts.listen_stop" : "breakouts.listen")),
        h("button", { type: "button", class: "btn btn--small", data: { fkey: `extend-${room.id}` },
          attrs: { "aria-label": t("breakouts.extend_room_label", label) },
          on: { click: () => request("breakouts.extend", { seconds: 300, room: room.id }, controlError) } }, t("breakouts.extend")),
        h("button", { type: "button", class: "btn btn--small btn--danger", data: { fkey: `close-${room.id}` },
          attrs: { "aria-label": t("breakouts.close_room_label", label) },
          on: { click: () => {
            if (window.confirm(t("breakouts.close_room_confirm", label))) request("breakouts.close_room", { room: room.id }, controlError);
          } } }, t("breakouts.close_room")));
      cards.append(h("li", { class: `bo-room${help ? " bo-room--help" : ""}${here ? " bo-room--here" : ""}${heard ? " bo-room--heard" : ""}`, data: { room: room.id } },
        h("div", { class: "bo-room__head" },
          h("h3", { class: "bo-room__title" }, t("breakouts.room_n", { n: i + 1, title: room.title })),
          topic && topic !== room.title ? h("p", { class: "bo-room__topic" }, t("breakouts.topic", { topic })) : null,
          h("p", { class: "bo-room__count" },
            room.capacity != null ? t("breakouts.count_cap", { n: count, cap: room.capacity }) : t(count === 1 ? "breakouts.count_one" : "breakouts.count", { n: count }),
            h("span", { class: "bo-room__time", data: { room: room.id } })),
          others.length ? h("p", { class: "bo-room__listeners" }, t("breakouts.listeners", { names: others.join(", ") })) : null),
        people.length
          ? h("ul", { class: "bo-room__members", attrs: { "aria-label": t("breakouts.members_label", { n: i + 1 }) } },
            people.map((p) => h("li", {}, p.name, p.moderator ? h("span", { class: "badge badge--small" }, t("role_moderator")) : null)))
          : h("p", { class: "muted bo-room__empty" }, t("breakouts.room_empty")),
        actions,
        help ? h("p", { class: "bo-room__help", attrs: { role: "status" } },
          t("breakouts.help_flag", { name: help.name || nameOf(help.participant) || "" })) : null,
        heard ? h("div", { class: "bo-room__listen" },
          h("p", { class: "bo-room__listening" }, t("breakouts.listening")),
          h("ul", { class: "bo-room__chat", attrs: { "aria-label": t("breakouts.listen_chat_label", label), "aria-live": "polite" } },
            listening.lines.slice(-3).map((l) => h("li", {}, h("b", {}, `${l.author}: `), l.text)))) : null));
    });
  }

  async function listenTo(room, quiet = false) {
    const ok = await request("breakouts.listen", { room }, controlError);
    if (!ok) return;
    listening = room ? { room, lines: (ok.chat || []).map((m) => ({ author: m.author.name, text: m.text })) } : null;
    if (!quiet) notify(room ? t("breakouts.listen_notice", { n: roomIndex(room) + 1 }) : t("breakouts.listen_stopped"));
    redraw();
  }
  // The server forgets a listener whose socket closed: after a reconnect, ask again.
  store.subscribe("reset", () => {
    if (!listening) return;
    const room = listening.room;
    listening = null;
    const still = open() && model().breakouts.rooms.some((r) => r.id === room && r.open);
    if (still && isModerator(model()) && model().myRoom !== room) listenTo(room, true);
  });
  if (onDirect) {
    onDirect("listen.entry", (f) => {
      if (!listening || f.room !== listening.room || !f.entry) return;
      if (f.entry.type === "chat.message") listening.lines.push({ author: f.entry.message.author.name, text: f.entry.message.text });
      redraw();
    });
    onDirect("listen.stopped", (f) => {
      if (!listening || f.room !== listening.room) return;
      listening = null;
      if (f.reason === "closed") notify(t("breakouts.listen_closed"));
      redraw();
    });
  }

  function drawPlacement() {
    const b = model().breakouts;
    const people = [...model().participants.values()]
      .filter((p) => p.online && p.role !== "moderator")
      .sort((a, c) => a.name.localeCompare(c.name));
    clear(placeList);
    if (!people.length) {
      placeList.append(h("li", { class: "muted" }, t("breakouts.place_nobody")));
      return;
    }
    const where = new Map();
    for (const r of b.rooms) for (const p of r.members) where.set(p, r.id);
    for (const p of people) {
      const id = `bo-place-${p.id}`;
      const current = where.get(p.id) || model().event.plenary_room;
      const select = h("select", { id, data: { fkey: id } },
        h("option", { value: model().event.plenary_room, selected: current === model().event.plenary_room }, t("breakouts.plenary")),
        b.rooms.map((r, i) => h("option", { value: r.id, selected: current === r.id, disabled: current !== r.id && (isFull(r) || !r.open) },
          t("breakouts.room_n", { n: i + 1, title: r.title }))));
      select.addEventListener("change", async () => {
        const ok = await request("breakouts.move", { participant: p.id, room: select.value }, placeError);
        if (!ok) select.value = current;
      });
      placeList.append(h("li", { class: "bo-place__row" },
        h("label", { htmlFor: id }, t("breakouts.place_label", { name: p.name })), select));
    }
  }

  function drawPicker() {
    const b = model().breakouts;
    clear(pickList);
    b.rooms.forEach((room, i) => {
      if (!room.open) return;
      const here = model().myRoom === room.id;
      const full = !here && isFull(room);
      const topic = room.topic ? topicTitle(room.topic) : "";
      const count = seats(room);
      pickList.append(h("li", { class: `bo-pick__room${here ? " is-here" : ""}` },
        h("span", { class: "bo-pick__main" },
          h("span", { class: "bo-pick__title" }, t("breakouts.room_n", { n: i + 1, title: room.title })),
          topic && topic !== room.title ? h("span", { class: "bo-pick__topic" }, t("breakouts.topic", { topic })) : null,
          h("span", { class: "bo-pick__count" },
            room.capacity != null ? t("breakouts.count_cap", { n: count, cap: room.capacity }) : t(count === 1 ? "breakouts.count_one" : "breakouts.count", { n: count }),
            full ? ` – ${t("breakouts.full")}` : "")),
        here
          ? h("span", { class: "bo-pick__here" }, t("breakouts.you_are_here"))
          : h("button", { type: "button", class: "btn btn--primary btn--big", disabled: full,
            data: { fkey: `pick-${room.id}` },
            attrs: { "aria-label": full ? null : t("breakouts.choose_label", { n: i + 1, title: room.title }) },
            on: { click: () => request("room.enter", { room: room.id }, pickError) } },
          full ? t("breakouts.full") : t("breakouts.choose", { n: i + 1 }))));
    });
  }

  function drawPanel() {
    const moderator = isModerator(model());
    if (!open()) {
      clear(body);
      if (moderator) {
        updatePerTopicHint();
        body.append(openForm);
        show(openError, false);
      }
      show(panel, moderator);
      return;
    }
    const b = model().breakouts;
    if (moderator) {
      if (openForm.parentNode) openForm.remove();
      if (!modOpen.parentNode) { clear(body); body.append(modOpen); }
      setText(modHead, t("breakouts.status_open", { round: b.round, n: b.rooms.length, mode: t(`breakouts.mode_${b.assign}`) }));
      show(backButton, model().myRoom !== model().event.plenary_room);
      keepFocus(cards, drawCards);
      keepFocus(placeList, drawPlacement);
      if (b.assign === "manual" && !place.dataset.touched) place.open = true;
      show(panel, true);
      panel.classList.add("is-cockpit");
      return;
    }
    panel.classList.remove("is-cockpit");
    clear(body);
    if (b.assign === "self") {
      setText(pickTitle, myBreakout() ? t("breakouts.pick_other") : t("breakouts.pick_title"));
      show(pickLead, !myBreakout());
      keepFocus(pickList, drawPicker);
      body.append(pick);
      show(panel, true);
    } else if (!myBreakout()) {
      body.append(waiting);
      show(panel, true);
    } else {
      show(panel, false);
    }
  }
  place.addEventListener("toggle", () => { place.dataset.touched = "1"; });

  function drawBanner() {
    const room = myBreakout();
    show(banner, Boolean(room));
    if (!room) {
      setText(chatTitle, t("chat_title"));
      helpCalled = false;
      return;
    }
    const n = roomIndex(room.id) + 1;
    const topic = (room.topic && topicTitle(room.topic)) || room.title;
    setText(bannerText, t("breakouts.banner", { n, topic }));
    setText(bannerTopic, room.title !== topic ? room.title : "");
    show(bannerTopic, room.title !== topic);
    setText(chatTitle, t("breakouts.chat_title", { n, title: room.title }));
    const moderator = isModerator(model());
    show(helpButton, !moderator);
    helpButton.disabled = helpCalled;
    setText(helpButton, helpCalled ? t("breakouts.help_called") : t("breakouts.help"));
    show(helpNote, helpCalled);
    show(leaveButton, moderator || model().breakouts.assign === "self");
  }

  function tick() {
    const b = store.ready ? model().breakouts : null;
    const mine = b && b.status === "open" ? myBreakout() : null;
    const left = b && b.status === "open" ? remaining(mine ? roomEnds(mine) : b.endsAt) : null;
    const text = left ? t("breakouts.time_left", { time: left.text }) : (b && b.status === "open" ? t("breakouts.no_limit") : "");
    setText(bannerTime, text);
    setText(modTime, text);
    bannerTime.classList.toggle("is-soon", Boolean(left && left.seconds <= 60));
    modTime.classList.toggle("is-soon", Boolean(left && left.seconds <= 60));
    for (const el of cards.querySelectorAll(".bo-room__time")) {
      const room = b && b.status === "open" ? b.rooms.find((r) => r.id === el.dataset.room) : null;
      const own = room ? remaining(roomEnds(room)) : null;
      setText(el, own ? ` · ${t("breakouts.room_time_left", { time: own.text })}` : "");
      el.classList.toggle("is-soon", Boolean(own && own.seconds <= 60));
    }
  }

  function redraw() {
    if (!store.ready) {
      show(banner, false);
      show(panel, false);
      show(warning, false);
      return;
    }
    drawPanel();
    drawBanner();
    if (!open()) show(warning, false);
    tick();
  }

  setInterval(tick, 1000);

  // -- events ------------------------------------------------------------------------
  for (const kind of ["reset", "breakouts.opened", "breakouts.closed", "breakouts.extended",
    "breakouts.room_extended", "breakouts.room_closed",
    "breakouts.warning", "help.requested", "help.cleared", "participant.joined", "participant.left",
    "participant.moved", "breakouts.listening"]) {
    store.subscribe(kind, redraw);
  }

  store.subscribe("participant.moved", (ev) => {
    const m = model();
    if (ev.participant === m.me.id) {
      const synced = resync();
      if (ev.reason === "closed") notify(t(open() ? "breakouts.room_back_notice" : "breakouts.back_notice"));
      else if (ev.to === m.event.plenary_room) notify(t("breakouts.plenary_notice"));
      else {
        const i = roomIndex(ev.to);
        const room = i >= 0 ? m.breakouts.rooms[i] : null;
        if (room) notify(t("breakouts.moved_notice", { n: i + 1, title: room.title }));
        // in the new room (its state loaded: the plenary's slides have left the stage), where
        // I am and "call a moderator" come into view, even if the picker sat below the slides
        if (room) synced.then(() => requestAnimationFrame(() => { if (!banner.hidden) banner.scrollIntoView({ block: "nearest" }); }));
      }
    } else if (ev.to === m.myRoom && isModeratorId(ev.participant) && myBreakout() && !isModerator(m)) {
      helpCalled = false;
      drawBanner();
      notify(t("breakouts.moderator_here", { name: nameOf(ev.participant) || "" }));
    }
  });

  store.subscribe("breakouts.opened", () => {
    const m = model();
    // the cockpit comes first in the stage column: show it from its top
    if (isModerator(m)) requestAnimationFrame(() => panel.scrollIntoView({ block: "start" }));
    if (!isModerator(m) && m.breakouts.assign === "self") {
      notify(t("breakouts.pick_notice"));
      // below the slides on the stage the rooms to choose from would be out of sight
      requestAnimationFrame(() => panel.scrollIntoView({ block: "nearest" }));
    }
  });

  store.subscribe("breakouts.warning", (ev) => {
    if (ev.room && ev.room !== model().myRoom) return;
    if (!ev.room && myBreakout() && roomEnds(myBreakout()) !== model().breakouts.endsAt) return;
    const s = Math.max(1, Math.round(ev.seconds_left || 60));
    setText(warning, s >= 50 ? t("breakouts.warning_minute") : t("breakouts.warning_seconds", { n: s }));
    show(warning, true);
  });
  store.subscribe("breakouts.extended", () => {
    show(warning, false);
    notify(t("breakouts.extended_notice"));
  });
  store.subscribe("breakouts.closed", () => { show(warning, false); listening = null; });
  store.subscribe("breakouts.room_extended", (ev) => {
    if (ev.room !== model().myRoom) return;
    show(warning, false);
    notify(t("breakouts.extended_notice"));
  });
  store.subscribe("breakouts.room_closed", (ev) => {
    if (listening && listening.room === ev.room) listening = null;
  });

  // A help call is shown to moderators as an alert that stays (meeting.js).

  store.subscribe("broadcast", (ev) => {
    setText(broadcastText, ev.text);
    setText(broadcastFrom, t("breakouts.broadcast_from", { name: ev.from ? ev.from.name : "" }));
    show(broadcastBox, true);
  });
  broadcastDismiss.addEventListener("click", () => show(broadcastBox, false));

  helpButton.addEventListener("click", async () => {
    helpButton.disabled = true;
    const ok = await request("breakouts.help", {});
    helpCalled = Boolean(ok);
    drawBanner();
  });
  leaveButton.addEventListener("click", () => request("room.enter", { room: model().event.plenary_room }));
}
