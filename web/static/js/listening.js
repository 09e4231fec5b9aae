// "The moderation is listening": a moderator who listens in on my room (breakouts.listen,
// from wherever they are) is told to everyone in it, as BigBlueButton and Jitsi do. The
// notice is pinned in view among the alerts (a polite live region), the moderator is
// marked in the people list, and both go away when the listening ends. The server journals
// it for my room only (`breakouts.listening`, audience room; `ready.state.listening`), so a
// reload, a resume or a move into the room shows it as well.

import { $, h, show, setText } from "./dom.js";
import { t } from "./i18n.js";
import { personExtras } from "./participants.js";

export function install({ store, notify }) {
  // model.listening: who listens in on my room, participant id -> name
  store.onReset((model, state) => {
    model.listening = new Map((state.listening || []).map((x) => [x.participant, x.name]));
  });
  store.on("participant.moved", (model, ev) => {
    // my new room's listeners come with the state.sync that follows my own move
    if (ev.participant === model.me.id) model.listening = new Map();
  });
  store.on("breakouts.listening", (model, ev) => {
    if (ev.room !== model.myRoom) return;
    if (ev.listening) model.listening.set(ev.participant, ev.name);
    else model.listening.delete(ev.participant);
  });

  const notice = $("#listen-notice");
  let said = "";
  let announce = null;

  function redraw() {
    const names = store.ready && store.model.listening ? [...store.model.listening.values()].sort((a, b) => a.localeCompare(b)) : [];
    const text = !names.length ? "" : t(names.length === 1 ? "listening.notice_one" : "listening.notice_many", { names: names.join(", ") });
    if (text === said) return;
    said = text;
    clearTimeout(announce);
    if (!text) {
      setText(notice, "");
      show(notice, false);
      return;
    }
    if (notice.hidden) {
      // into the accessibility tree first, then the text: screen readers announce a change
      // of a live region they already know, not one that appears with its text
      setText(notice, "");
      show(notice, true);
      announce = setTimeout(() => setText(notice, said), 150);
    } else {
      setText(notice, text);
    }
  }
  store.subscribe("reset", redraw);
  store.subscribe("participant.moved", redraw);
  store.subscribe("breakouts.listening", (ev) => {
    redraw();
    if (!ev.listening && store.ready && ev.room === store.model.myRoom && !store.model.listening.size) {
      notify(t("listening.ended"));
    }
  });

  personExtras.push((p) => (store.ready && store.model.listening && store.model.listening.has(p.id)
    ? h("span", { class: "tag person__listening" }, t("listening.tag"))
    : null));
}
