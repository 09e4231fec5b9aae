// Moderators' tools over people and rooms: promote to moderator and back, send back to the
// waiting room, remove from the event (with a reason), lock the chat of a room. Everyone
// sees a locked chat as such; participants cannot write there.

import { $, h, show, setText } from "./dom.js";
import { t } from "./i18n.js";
import { isModerator } from "./state.js";
import { personExtras } from "./participants.js";
import { errorKey, makeResync } from "./resync.js";

export function install({ store, socket, notify }) {
  const resync = makeResync(store, socket);

  store.onReset((model, state) => {
    model.chatLocked = new Set(state.chat_locked || []);
  });
  store.on("chat.locked", (model, ev) => {
    const room = ev.room || model.event.plenary_room;
    if (ev.locked) model.chatLocked.add(room);
    else model.chatLocked.delete(room);
  });
  store.on("participant.role", (model, ev) => {
    if (ev.participant === model.me.id) model.me.role = ev.role;
  });

  const model = () => store.model;

  async function run(type, body, done) {
    try {
      await socket().request(type, body);
      if (done) notify(done);
      return true;
    } catch (err) {
      notify(err.code === "conflict" ? t("moderation.err_conflict") : t(errorKey(err)));
      return false;
    }
  }

  // -- per person ------------------------------------------------------------------------
  personExtras.push((p) => {
    if (!store.ready || !isModerator(model()) || p.id === model().me.id || p.online === false) return null;
    const isMod = p.role === "moderator";
    return h("details", { class: "person__actions" },
      h("summary", { class: "btn btn--small btn--quiet" },
        t("moderation.actions"), h("span", { class: "visually-hidden" }, ` ${t("moderation.for", { name: p.name })}`)),
      h("div", { class: "person__menu" },
        // The microphone: mute, or ask to unmute (only the person switches it on again).
        model().muted && model().muted.has(p.id)
          ? h("button", { type: "button", class: "btn btn--small",
            on: { click: () => run("media.ask_unmute", { participant: p.id }, t("media.asked_notice", { name: p.name })) } },
          t("media.ask_other"))
          : h("button", { type: "button", class: "btn btn--small",
            on: { click: () => run("media.mute", { participant: p.id, muted: true }) } }, t("media.mute_other")),
        h("button", {
          type: "button",
          class: "btn btn--small",
          on: { click: () => run("participant.promote", { participant: p.id, role: isMod ? "participant" : "moderator" }) },
        }, t(isMod ? "moderation.demote" : "moderation.promote")),
        isMod ? null : h("button", {
          type: "button",
          class: "btn btn--small",
          on: { click: () => toWaitingRoom(p) },
        }, t("moderation.to_lobby")),
        h("button", {
          type: "button",
          class: "btn btn--small btn--danger",
          on: { click: () => remove(p) },
        }, t("moderation.remove"))));
  });

  // Everyone in my room muted at once, except whoever has the floor.
  const muteAll = h("button", { type: "button", id: "mute-all", class: "btn btn--small", hidden: true,
    on: { click: () => {
      const f = model().floor && model().floor.get(model().myRoom);
      run("media.mute_all", f ? { keep: f.participant } : {}, t("media.mute_all_done"));
    } } }, t("media.mute_all"));
  // Lock the microphones of my room (only the speaker and whoever I ask may unmute).
  const lockMics = h("button", { type: "button", id: "mic-lock", class: "btn btn--small", hidden: true,
    attrs: { "aria-pressed": "false" },
    on: { click: () => run("media.lock", { locked: !(model().mic && model().mic.locked) }) } });
  $("#people-list").before(h("div", { class: "people__tools" }, muteAll, lockMics));
  function drawMicTools() {
    const moderator = store.ready && isModerator(model());
    show(muteAll, moderator);
    show(lockMics, moderator);
    if (!moderator) return;
    const on = Boolean(model().mic && model().mic.locked);
    lockMics.setAttribute("aria-pressed", String(on));
    setText(lockMics, t(on ? "media.unlock_mics" : "media.lock_mics"));
  }
  for (const topic of ["reset", "participant.role", "media.locked", "participant.moved"]) {
    store.subscribe(topic, drawMicTools);
  }

  function toWaitingRoom(p) {
    if (!window.confirm(t("moderation.to_lobby_confirm", { name: p.name }))) return;
    run("lobby.return", { participant: p.id }, t("moderation.to_lobby_done", { name: p.name }));
  }

  function remove(p) {
    const reason = window.prompt(t("moderation.remove_prompt", { name: p.name }), "");
    if (reason === null) return;
    if (!window.confirm(t("moderation.remove_confirm", { name: p.name }))) return;
    const body = { participant: p.id };
    if (reason.trim()) body.reason = reason.trim();
    run("participant.remove", body, t("moderation.removed_done", { name: p.name }));
  }

  // My own role changed: load everything a moderator (or a participant) sees.
  store.subscribe("participant.role", async (ev) => {
    if (!store.ready || ev.participant !== model().me.id) return;
    notify(t(ev.role === "moderator" ? "moderation.now_moderator" : "moderation.now_participant"));
    await resync();
  });

  // -- chat lock -----------------------------------------------------------------------------
  const chatForm = $("#chat-form");
  const chatInput = $("#chat-input");
  const chatSend = $("#chat-send");
  const lockedNote = h("p", { id: "chat-locked", class: "notice notice--warn chat__locked", attrs: { role: "status" }, hidden: true });
  const lockButton = h("button", {
    type: "button",
    id: "chat-lock",
    class: "btn btn--small",
    hidden: true,
    attrs: { "aria-pressed": "false" },
    on: { click: toggleLock },
  });
  chatForm.before(lockedNote);
  chatForm.after(h("div", { class: "chat__tools" }, lockButton));

  function locked() {
    return store.ready && model().chatLocked && model().chatLocked.has(model().myRoom);
  }

  function toggleLock() {
    if (!store.ready) return;
    run("chat.lock", { room: model().myRoom, locked: !locked() });
  }

  function renderLock() {
    const on = Boolean(locked());
    const moderator = store.ready && isModerator(model());
    setText(lockedNote, moderator && on ? t("moderation.chat_locked_mod") : t("moderation.chat_locked"));
    show(lockedNote, on);
    const blocked = on && !moderator;
    chatInput.disabled = blocked;
    chatSend.disabled = blocked;
    show(lockButton, Boolean(moderator));
    lockButton.setAttribute("aria-pressed", String(on));
    setText(lockButton, t(on ? "moderation.chat_unlock" : "moderation.chat_lock"));
  }

  for (const topic of ["reset", "chat.locked", "participant.moved", "participant.role"]) {
    store.subscribe(topic, renderLock);
  }
}
