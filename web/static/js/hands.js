// The raised-hand queue, in raise order, visible to everyone.

import { $, clear, h, show } from "./dom.js";
import { t } from "./i18n.js";
import { isModerator } from "./state.js";

// Other modules add controls to each hand in the queue (the speaker queue's "give the
// floor", move up/down): fn(hand, {index, roomHands, moderator, mine}) -> Node | null.
export const handControls = [];

export function install({ store, socket, notify }) {
  store.onReset((model, state) => {
    model.hands = (state.hands || []).map((x) => ({ ...x }));
  });
  store.on("hand.raised", (model, ev) => {
    if (model.hands.some((x) => x.participant === ev.participant)) return;
    model.hands.push({ participant: ev.participant, name: ev.name, room: ev.room, at: ev.at });
  });
  store.on("hand.lowered", (model, ev) => {
    model.hands = model.hands.filter((x) => x.participant !== ev.participant);
  });
  // Moderators reorder one room's queue; the hands of other rooms keep their places.
  store.on("hands.reordered", (model, ev) => {
    const pos = new Map((ev.order || []).map((pid, i) => [pid, i]));
    const moved = model.hands.filter((x) => pos.has(x.participant))
      .sort((a, b) => pos.get(a.participant) - pos.get(b.participant));
    let i = 0;
    model.hands = model.hands.map((x) => (pos.has(x.participant) ? moved[i++] : x));
  });

  const queue = $("#hand-queue");
  const empty = $("#hands-empty");
  const toggle = $("#hand-toggle");
  const toggleText = $("#hand-toggle-text");
  const note = $("#hand-note");
  let busy = false;

  function redraw() {
    clear(queue);
    if (!store.ready) return;
    const model = store.model;
    const me = model.me.id;
    const moderator = isModerator(model);
    const position = model.hands.findIndex((x) => x.participant === me);
    model.hands.forEach((hand, i) => {
      const mine = hand.participant === me;
      const roomHands = model.hands.filter((x) => x.room === hand.room);
      const extras = handControls.map((fn) => fn(hand, { index: i, roomHands, moderator, mine }))
        .filter(Boolean);
      queue.append(h("li", { class: mine ? "hand hand--mine" : "hand", data: { participant: hand.participant } },
        h("span", { class: "hand__pos", attrs: { "aria-hidden": "true" } }, `${i + 1}`),
        h("span", { class: "hand__name" }, hand.name, mine ? ` ${t("me_marker")}` : ""),
        moderator ? h("button", {
          type: "button",
          class: "btn btn--small hand__lower",
          attrs: { "aria-label": t("hand_lower_label", { name: hand.name }) },
          on: { click: () => lower(hand.participant) },
        }, t("hand_lower_other")) : null,
        mine && !moderator ? h("button", {
          type: "button",
          class: "btn btn--small hand__withdraw",
          on: { click: () => lower(null) },
        }, t("floor.withdraw")) : null,
        extras.length ? h("span", { class: "hand__extras" }, extras) : null));
    });
    show(empty, model.hands.length === 0);
    const raised = position >= 0;
    toggle.setAttribute("aria-pressed", String(raised));
    toggle.classList.toggle("is-raised", raised);
    toggleText.textContent = raised ? t("hand_lower_own") : t("hand_raise");
    note.textContent = raised ? t("hand_raised_note", { n: position + 1 }) : "";
    show(note, raised);
  }

  async function run(type, body) {
    if (busy) return;
    busy = true;
    toggle.disabled = true;
    try {
      await socket().request(type, body);
    } catch (err) {
      notify(err.code === "forbidden" ? t("err_forbidden")
        : err.code === "offline" || err.code === "interrupted" ? t("err_offline") : t("err_generic"));
    } finally {
      busy = false;
      toggle.disabled = false;
    }
  }

  function lower(participant) {
    run("hand.lower", participant ? { participant } : {});
  }

  toggle.addEventListener("click", () => {
    if (!store.ready) return;
    const mine = store.model.hands.some((x) => x.participant === store.model.me.id);
    if (mine) lower(null);
    else run("hand.raise", {});
  });

  for (const topic of ["reset", "hand.raised", "hand.lowered", "hands.reordered"]) store.subscribe(topic, redraw);
}
