// The speaker queue run by moderators: give the floor (to the next or a chosen person,
// with an optional time limit), reorder the queue, end a turn. Everyone sees who speaks
// and a server-timed countdown; when the time is up a gentle, silent signal.

import { $, h, show, setText } from "./dom.js";
import { t } from "./i18n.js";
import { isModerator } from "./state.js";
import { handControls } from "./hands.js";
import { clockText, observe, onTick, secondsSince, secondsUntil } from "./clock.js";
import { errorKey } from "./resync.js";

const LIMITS = [0, 60, 120, 180, 300];

export function install({ store, socket, notify }) {
  // -- model -------------------------------------------------------------------------
  store.onReset((model, state) => {
    model.floor = new Map();
    for (const f of state.floor || []) model.floor.set(f.room, { ...f });
  });
  store.on("floor.given", (model, ev) => {
    const room = ev.room || model.event.plenary_room;
    model.floor.set(room, { participant: ev.participant, name: ev.name, room, since: ev.since,
                            until: ev.until, limit_s: ev.limit_s, time_up: false });
  });
  store.on("floor.ended", (model, ev) => {
    const room = ev.room || model.event.plenary_room;
    const f = model.floor.get(room);
    if (f && f.participant === ev.participant) model.floor.delete(room);
  });
  store.on("floor.time_up", (model, ev) => {
    const f = model.floor.get(ev.room || model.event.plenary_room);
    if (f) f.time_up = true;
  });
  store.subscribe("*", (ev) => { if (ev.at) observe(ev.at); });

  // -- elements ----------------------------------------------------------------------
  const banner = $("#floor-banner");
  const speaker = $("#floor-speaker");
  const time = $("#floor-time");
  const timeUp = $("#floor-time-up");
  const endButton = $("#floor-end");
  const status = $("#floor-status");

  // The moderators' controls above the queue: time limit and "next person".
  const limitSelect = h("select", { id: "floor-limit", class: "select" },
    LIMITS.map((s) => h("option", { value: String(s) },
      s ? t("floor.limit_min", { n: s / 60 }) : t("floor.limit_none"))));
  const nextButton = h("button", {
    type: "button",
    id: "floor-next",
    class: "btn btn--primary btn--wide",
    on: { click: () => give(null) },
  }, t("floor.next"));
  const controls = h("div", { id: "floor-controls", class: "floor-controls", hidden: true },
    h("div", { class: "field field--inline" },
      h("label", { attrs: { for: "floor-limit" } }, t("floor.limit_label")), limitSelect),
    nextButton);
  $("#hand-queue").before(controls);

  const model = () => store.model;
  const myFloor = () => (store.ready && model().floor ? model().floor.get(model().myRoom) : null);
  const nameOf = (f) => {
    if (f.name) return f.name;
    const p = model().participants && model().participants.get(f.participant);
    return p ? p.name : t("floor.someone");
  };

  function limit() {
    const n = Number(limitSelect.value);
    return n > 0 ? n : null;
  }

  // Per hand (moderators): give the floor, move up, move down.
  handControls.push((hand, { roomHands, moderator }) => {
    if (!moderator) return null;
    const at = roomHands.findIndex((x) => x.participant === hand.participant);
    return [
      h("button", {
        type: "button",
        class: "btn btn--small btn--primary hand__give",
        attrs: { "aria-label": t("floor.give_label", { name: hand.name }) },
        on: { click: () => give(hand.participant) },
      }, t("floor.give")),
      h("button", {
        type: "button",
        class: "btn btn--small hand__move",
        disabled: at <= 0,
        attrs: { "aria-label": t("floor.up_label", { name: hand.name }) },
        on: { click: () => move(hand.participant, at - 1) },
      }, h("span", { attrs: { "aria-hidden": "true" } }, "↑"), t("floor.up")),
      h("button", {
        type: "button",
        class: "btn btn--small hand__move",
        disabled: at < 0 || at >= roomHands.length - 1,
        attrs: { "aria-label": t("floor.down_label", { name: hand.name }) },
        on: { click: () => move(hand.participant, at + 1) },
      }, h("span", { attrs: { "aria-hidden": "true" } }, "↓"), t("floor.down")),
    ];
  });

  async function run(type, body) {
    try {
      await socket().request(type, body);
      return true;
    } catch (err) {
      notify(err.code === "conflict" ? t("floor.err_conflict") : t(errorKey(err)));
      return false;
    }
  }

  function give(participant) {
    const body = {};
    if (participant) body.participant = participant;
    const l = limit();
    if (l) body.limit_s = l;
    run("floor.give", body);
  }

  function move(participant, position) {
    if (position < 0) return;
    run("hand.move", { participant, position });
  }

  endButton.addEventListener("click", () => {
    const f = myFloor();
    if (f) run("floor.end", { room: f.room });
  });

  // -- view --------------------------------------------------------------------------
  function tick() {
    const f = myFloor();
    if (!f) return;
    if (f.until) {
      const left = secondsUntil(f.until);
      setText(time, left > 0 ? t("floor.left", { time: clockText(left) })
        : t("floor.over", { time: clockText(-left) }));
    } else {
      setText(time, t("floor.since", { time: clockText(secondsSince(f.since)) }));
    }
  }

  function render() {
    const moderator = store.ready && isModerator(model());
    show(controls, Boolean(moderator));
    if (moderator) nextButton.disabled = !model().hands.some((x) => x.room === model().myRoom);
    const f = myFloor();
    show(banner, Boolean(f));
    if (!f) return;
    const me = model().me.id;
    setText(speaker, f.participant === me ? t("floor.speaking_you") : t("floor.speaking", { name: nameOf(f) }));
    banner.classList.toggle("is-time-up", Boolean(f.time_up));
    banner.classList.toggle("is-mine", f.participant === me);
    show(timeUp, Boolean(f.time_up));
    show(endButton, moderator || f.participant === me);
    tick();
  }

  onTick(tick);
  for (const topic of ["reset", "floor.given", "floor.ended", "floor.time_up", "hand.raised", "hand.lowered",
    "hands.reordered", "participant.moved"]) store.subscribe(topic, render);

  // Spoken announcements (the banner itself is not a live region: its clock ticks).
  store.subscribe("floor.given", (ev) => {
    if (ev.room !== model().myRoom) return;
    const mine = ev.participant === model().me.id;
    setText(status, mine ? t("floor.given_you") : t("floor.given_notice", { name: ev.name }));
  });
  store.subscribe("floor.time_up", (ev) => {
    if (ev.room !== model().myRoom) return;
    const f = myFloor();
    setText(status, ev.participant === model().me.id ? t("floor.time_up_you")
      : t("floor.time_up_notice", { name: f ? nameOf(f) : "" }));
  });
  store.subscribe("floor.ended", (ev) => {
    if (ev.room === model().myRoom) setText(status, t("floor.ended_notice"));
  });
}
