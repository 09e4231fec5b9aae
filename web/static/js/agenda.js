// The event's agenda: its impulse topics, with the speaker when there is one.

import { $, clear, h, longDate, show } from "./dom.js";
import { pageLang, t } from "./i18n.js";

export function install({ store }) {
  const list = $("#agenda-list");
  const empty = $("#agenda-empty");
  const meta = $("#event-meta");
  const title = $("#event-title");

  function redraw() {
    clear(list);
    if (!store.ready) return;
    const event = store.model.event;
    if (event.title) title.textContent = event.title;
    const parts = [];
    if (event.starts_at) parts.push(t("event_starts", { date: longDate(event.starts_at, pageLang()) }));
    if (event.description) parts.push(event.description);
    meta.textContent = parts.join(" · ");
    show(meta, parts.length > 0);
    const topics = event.topics || [];
    topics.forEach((topic) => {
      list.append(h("li", { class: "topic" },
        h("span", { class: "topic__title" }, topic.title),
        topic.speaker ? h("span", { class: "topic__speaker" }, t("agenda_speaker", { speaker: topic.speaker })) : null));
    });
    show(empty, topics.length === 0);
  }

  store.subscribe("reset", redraw);
}
