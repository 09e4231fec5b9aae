// The chat of my room: history, live lines, sending, moderators' delete.

import { $, clear, h, hhmm, show } from "./dom.js";
import { t } from "./i18n.js";
import { isModerator } from "./state.js";

// Other modules add controls to each chat line: fn(message) -> Node | null (e.g. minutes'
// "to the minutes" button for moderators).
export const lineExtras = [];

const ERRORS = {
  too_large: "chat_err_too_large",
  rate_limited: "chat_err_rate_limited",
  offline: "chat_err_offline",
  interrupted: "chat_err_interrupted",
  forbidden: "err_forbidden",
};

export function install({ store, socket }) {
  // -- model -------------------------------------------------------------------------
  store.onReset((model, state) => {
    model.chat = new Map();  // room -> [message]
    model.chatIds = new Set();
    const room = state.my_room || (state.me && state.me.room);
    for (const m of state.chat || []) addMessage(model, { ...m, room: m.room || room });
  });
  store.on("chat.message", (model, ev) => {
    addMessage(model, { ...ev.message, room: ev.room });
  });
  store.on("chat.deleted", (model, ev) => {
    if (!model.chatIds.delete(ev.message)) return;
    for (const lines of model.chat.values()) {
      const i = lines.findIndex((m) => m.id === ev.message);
      if (i >= 0) lines.splice(i, 1);
    }
  });

  // -- view --------------------------------------------------------------------------
  const log = $("#chat-log");
  const list = $("#chat-lines");
  const empty = $("#chat-empty");
  const form = $("#chat-form");
  const input = $("#chat-input");
  const error = $("#chat-error");
  const rendered = new Map();  // message id -> <li>

  const model = () => store.model;

  function line(m) {
    const me = model().me;
    const mine = m.author && m.author.id === me.id;
    const time = hhmm(m.at);
    const li = h("li", { class: mine ? "chat-line chat-line--mine" : "chat-line", data: { id: m.id } },
      h("div", { class: "chat-line__meta" },
        h("time", { class: "chat-line__time", attrs: { datetime: m.at } }, time),
        " ",
        h("span", { class: "chat-line__author" }, m.author ? m.author.name : ""),
        mine ? h("span", { class: "chat-line__me" }, ` ${t("me_marker")}`) : null),
      h("p", { class: "chat-line__text" }, m.text));
    const extras = lineExtras.map((fn) => fn(m)).filter(Boolean);
    if (extras.length) li.append(h("div", { class: "chat-line__extras" }, extras));
    if (isModerator(model())) {
      li.append(h("button", {
        type: "button",
        class: "btn btn--small btn--quiet chat-line__delete",
        attrs: { "aria-label": t("chat_delete_label", { name: m.author ? m.author.name : "", time }) },
        on: { click: () => remove(m.id) },
      }, t("chat_delete")));
    }
    return li;
  }

  const nearBottom = () => log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  const toBottom = () => { log.scrollTop = log.scrollHeight; };

  function redraw() {
    clear(list);
    rendered.clear();
    if (!store.ready) return;
    for (const m of model().chat.get(model().myRoom) || []) {
      const li = line(m);
      rendered.set(m.id, li);
      list.append(li);
    }
    show(empty, rendered.size === 0);
    toBottom();
  }

  store.subscribe("reset", redraw);
  store.subscribe("participant.moved", (ev) => { if (ev.participant === model().me.id) redraw(); });
  store.subscribe("chat.message", (ev) => {
    const m = ev.message;
    if (ev.room !== model().myRoom || rendered.has(m.id)) return;
    const stick = nearBottom();
    const li = line({ ...m, room: ev.room });
    rendered.set(m.id, li);
    list.append(li);
    show(empty, false);
    if (stick || (m.author && m.author.id === model().me.id)) toBottom();
  });
  store.subscribe("chat.deleted", (ev) => {
    const li = rendered.get(ev.message);
    if (li) {
      li.remove();
      rendered.delete(ev.message);
    }
    show(empty, rendered.size === 0);
  });

  function showError(code) {
    error.textContent = code ? t(ERRORS[code] || "chat_err_generic") : "";
    show(error, Boolean(code));
  }

  async function send() {
    const text = input.value.trim();
    if (!text || !store.ready) return;
    if (text.length > 2000) {
      showError("too_large");
      return;
    }
    try {
      await socket().request("chat.send", { room: model().myRoom, text });
      input.value = "";
      showError(null);
    } catch (err) {
      showError(err.code || "generic");
    }
    input.focus();
  }

  async function remove(id) {
    if (!window.confirm(t("chat_delete_confirm"))) return;
    try {
      await socket().request("chat.delete", { message: id });
    } catch (err) {
      showError(err.code === "not_found" ? null : err.code || "generic");
    }
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    send();
  });
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      send();
    }
  });
  input.addEventListener("input", () => { if (!error.hidden) showError(null); });
}

function addMessage(model, m) {
  if (model.chatIds.has(m.id)) return;
  model.chatIds.add(m.id);
  if (!model.chat.has(m.room)) model.chat.set(m.room, []);
  model.chat.get(m.room).push(m);
}
