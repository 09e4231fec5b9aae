// Who is here: roles, organization, presence. People who leave stay listed as "has left"
// until the next full redraw.

import { $, clear, h } from "./dom.js";
import { t } from "./i18n.js";

// Other modules add controls to each person (moderators' promote / waiting room / remove):
// fn(person) -> Node | null.
export const personExtras = [];

export function install({ store }) {
  store.onReset((model, state) => {
    model.participants = new Map();
    for (const p of state.participants || []) model.participants.set(p.id, { ...p, online: true });
    const me = state.me;
    if (me && !model.participants.has(me.id)) model.participants.set(me.id, { ...me, online: true });
  });
  store.on("participant.joined", (model, ev) => {
    const p = ev.participant;
    model.participants.set(p.id, { ...(model.participants.get(p.id) || {}), ...p, online: true });
  });
  store.on("participant.left", (model, ev) => {
    const p = model.participants.get(ev.participant.id);
    if (p) p.online = false;
  });
  store.on("participant.moved", (model, ev) => {
    const p = model.participants.get(ev.participant);
    if (p) p.room = ev.to;
  });
  store.on("participant.role", (model, ev) => {
    const p = model.participants.get(ev.participant);
    if (p) p.role = ev.role;
  });
  store.on("participant.removed", (model, ev) => {
    if (ev.participant !== model.me.id) model.participants.delete(ev.participant);
  });

  const list = $("#people-list");
  const count = $("#people-count");

  function order(a, b) {
    if (a.online !== b.online) return a.online ? -1 : 1;
    const am = a.role === "moderator", bm = b.role === "moderator";
    if (am !== bm) return am ? -1 : 1;
    return a.name.localeCompare(b.name);
  }

  function redraw() {
    clear(list);
    count.textContent = "";
    if (!store.ready) return;
    const me = store.model.me.id;
    const people = [...store.model.participants.values()].sort(order);
    for (const p of people) {
      const moderator = p.role === "moderator";
      const classes = ["person", p.online ? "is-online" : "is-offline", moderator ? "is-moderator" : "", p.id === me ? "is-me" : ""];
      list.append(h("li", { class: classes.filter(Boolean).join(" "), data: { participant: p.id } },
        h("span", { class: "person__dot", attrs: { "aria-hidden": "true" } }),
        h("span", { class: "person__main" },
          h("span", { class: "person__name" }, p.name),
          p.id === me ? h("span", { class: "person__me" }, ` ${t("me_marker")}`) : null,
          p.organization ? h("span", { class: "person__org" }, p.organization) : null),
        moderator ? h("span", { class: "badge" }, t("role_moderator")) : null,
        store.model.muted && store.model.muted.has(p.id) ? h("span", { class: "tag person__muted" }, t("meeting.muted")) : null,
        h("span", { class: p.online ? "visually-hidden" : "person__presence" },
          p.online ? t("people_online") : t("people_offline")),
        personExtras.map((fn) => fn(p)).filter(Boolean)));
    }
    const online = people.filter((p) => p.online).length;
    count.textContent = `(${t("people_count", { n: online })})`;
  }

  for (const topic of ["reset", "participant.joined", "participant.left", "participant.role",
    "participant.removed", "media.muted", "breakouts.listening"]) store.subscribe(topic, redraw);
}
