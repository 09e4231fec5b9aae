// Room timers: moderators start a countdown ("Kaffeepause", 10 min) or a stopwatch with a
// title and stop it; everyone in the room sees it, timed by the server, and a gentle
// "time is up" when a countdown ends.

import { $, clear, h, show, setText } from "./dom.js";
import { t } from "./i18n.js";
import { isModerator } from "./state.js";
import { clockText, observe, onTick, secondsSince, secondsUntil } from "./clock.js";
import { errorKey } from "./resync.js";

export function install({ store, socket, notify }) {
  store.onReset((model, state) => {
    model.timers = new Map((state.timers || []).map((x) => [x.id, { ...x }]));
  });
  store.on("timer.started", (model, ev) => { model.timers.set(ev.timer.id, { ...ev.timer }); });
  store.on("timer.finished", (model, ev) => {
    const x = model.timers.get(ev.timer);
    if (x) x.finished = true;
  });
  store.on("timer.stopped", (model, ev) => { model.timers.delete(ev.timer); });
  store.subscribe("*", (ev) => { if (ev.at) observe(ev.at); });

  const list = $("#timer-list");
  const status = $("#timer-status");
  const panel = $("#timer-panel");
  const form = $("#timer-form");
  const title = $("#timer-title");
  const mode = $("#timer-mode");
  const minutesField = $("#timer-minutes-field");
  const minutes = $("#timer-minutes");
  const error = $("#timer-error");
  const clocks = new Map();  // timer id -> <span> with its time

  const model = () => store.model;
  const mine = () => (store.ready && model().timers
    ? [...model().timers.values()].filter((x) => x.room === model().myRoom) : []);

  function timeText(x) {
    if (x.mode === "countdown" && x.ends_at) {
      const left = secondsUntil(x.ends_at);
      return x.finished || left <= 0 ? t("timers.done") : t("timers.left", { time: clockText(left) });
    }
    return t("timers.running", { time: clockText(secondsSince(x.started_at)) });
  }

  function tick() {
    for (const x of mine()) {
      const el = clocks.get(x.id);
      if (el) setText(el, timeText(x));
    }
  }

  function render() {
    clear(list);
    clocks.clear();
    const moderator = store.ready && isModerator(model());
    show(panel, Boolean(moderator));
    for (const x of mine()) {
      const clock = h("span", { class: "timer__time", attrs: { role: "timer", "aria-live": "off" } }, timeText(x));
      clocks.set(x.id, clock);
      list.append(h("li", { class: `timer timer--${x.mode}${x.finished ? " is-done" : ""}`, data: { timer: x.id } },
        h("span", { class: "timer__title" }, x.title),
        clock,
        moderator ? h("button", {
          type: "button",
          class: "btn btn--small",
          attrs: { "aria-label": t(x.finished ? "timers.dismiss_label" : "timers.stop_label", { title: x.title }) },
          on: { click: () => stop(x) },
        }, t(x.finished ? "timers.dismiss" : "timers.stop")) : null));
    }
    show(list, list.childElementCount > 0);
  }

  async function stop(x) {
    try {
      await socket().request("timer.stop", { timer: x.id });
    } catch (err) {
      if (err.code !== "not_found") notify(t(errorKey(err)));
    }
  }

  function showError(key) {
    setText(error, key ? t(key) : "");
    show(error, Boolean(key));
  }

  mode.addEventListener("change", () => show(minutesField, mode.value === "countdown"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!store.ready) return;
    const name = title.value.trim();
    if (!name) {
      showError("timers.err_title");
      title.focus();
      return;
    }
    const body = { title: name, mode: mode.value, room: model().myRoom };
    if (mode.value === "countdown") {
      const n = Number(String(minutes.value).replace(",", "."));
      if (!(n > 0 && n <= 24 * 60)) {
        showError("timers.err_minutes");
        minutes.focus();
        return;
      }
      body.seconds = Math.round(n * 60);
    }
    try {
      await socket().request("timer.start", body);
      showError(null);
      title.value = "";
    } catch (err) {
      showError(err.code === "invalid" || err.code === "not_found" ? "timers.err_invalid" : errorKey(err));
    }
  });

  onTick(tick);
  for (const topic of ["reset", "timer.started", "timer.finished", "timer.stopped", "participant.moved"]) {
    store.subscribe(topic, render);
  }
  store.subscribe("timer.started", (ev) => {
    if (ev.timer.room === model().myRoom) setText(status, t("timers.started_notice", { title: ev.timer.title }));
  });
  store.subscribe("timer.finished", (ev) => {
    if (ev.room && ev.room !== model().myRoom) return;
    setText(status, t("timers.finished_notice", { title: ev.title }));
  });
}
