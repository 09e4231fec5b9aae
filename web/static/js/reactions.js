// Reactions (applause, agree, disagree, slower please): buttons with text labels, a calm
// burst of counts when the room reacts, and the count of the current minute per kind.

import { $, clear, h, show, setText } from "./dom.js";
import { t } from "./i18n.js";

const KINDS = ["applause", "agree", "disagree", "slower"];
const BURST_MS = 3200;

export function install({ store, socket, notify }) {
  const box = $("#reactions");
  const bar = $("#reaction-buttons");
  const burst = $("#reaction-burst");
  const hint = $("#reaction-hint");
  const counts = new Map();   // kind -> <span> with this minute's count
  let minute = "";
  let tally = {};

  const icon = (kind) => h("img", { class: "reaction__icon", src: `/static/img/${kind}.svg`, alt: "",
    attrs: { width: "24", height: "24" } });

  for (const kind of KINDS) {
    const count = h("span", { class: "reaction__count", hidden: true });
    counts.set(kind, count);
    bar.append(h("button", {
      type: "button",
      class: `btn reaction reaction--${kind}`,
      title: t(`reactions.${kind}`),
      data: { kind },
      on: { click: () => send(kind) },
    }, icon(kind), h("span", { class: "reaction__label" }, t(`reactions.${kind}`)), count));
  }

  let hintTimer = null;
  async function send(kind) {
    if (!store.ready || !socket()) return;
    try {
      await socket().request("reaction.send", { kind });
    } catch (err) {
      if (err.code === "rate_limited") {
        setText(hint, t("reactions.slow_down"));
        show(hint, true);
        clearTimeout(hintTimer);
        hintTimer = setTimeout(() => show(hint, false), 4000);
      } else if (err.code !== "interrupted") {
        notify(err.code === "forbidden" ? t("err_forbidden") : t("err_offline"));
      }
    }
  }

  function showCounts() {
    for (const kind of KINDS) {
      const n = tally[kind] || 0;
      const el = counts.get(kind);
      setText(el, n ? String(n) : "");
      el.setAttribute("aria-label", t("reactions.this_minute", { n }));
      show(el, n > 0);
    }
  }

  store.subscribe("reactions", (ev) => {
    if (ev.room && store.ready && ev.room !== store.model.myRoom) return;
    if (ev.minute !== minute) {
      minute = ev.minute;
      tally = {};
    }
    for (const [kind, n] of Object.entries(ev.counts || {})) {
      if (!KINDS.includes(kind) || !n) continue;
      tally[kind] = (tally[kind] || 0) + n;
      const chip = h("span", { class: `burst burst--${kind}` }, icon(kind),
        h("span", { class: "burst__n" }, n > 1 ? `×${n}` : ""));
      burst.append(chip);
      setTimeout(() => chip.remove(), BURST_MS);
    }
    showCounts();
  });
  store.subscribe("reset", () => {
    clear(burst);
    show(box, store.ready);
  });
}
