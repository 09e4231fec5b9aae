// Impulse slides on the stage (contract §10). Moderators upload a PDF per topic (the server
// renders its pages); whoever presents (moderators, and whoever has the floor) turns the
// pages with the buttons or the arrow keys and everyone's stage follows (`slides.shown`).
// Anyone else may browse on their own and come back to the live page. Each page's text is
// there for screen readers; the page number is announced.

import { $, clear, h, show, setText } from "./dom.js";
import { t } from "./i18n.js";
import { isModerator } from "./state.js";
import { errorKey } from "./resync.js";

export function install({ store, socket, notify, session, eventId }) {
  store.onReset((model, state) => {
    const part = state.slides || {};
    model.decks = new Map((part.decks || []).map((d) => [d.id, { ...d }]));
    model.slideShown = part.shown ? { ...part.shown } : null;
  });
  store.on("slides.added", (model, ev) => {
    model.decks.set(ev.slides.id, { ...ev.slides });
  });
  store.on("slides.shown", (model, ev) => {
    if (ev.room && ev.room !== model.myRoom) return;
    model.slideShown = ev.slides ? { slides: ev.slides, page: ev.page, by: ev.by, at: ev.at } : null;
  });

  const view = $("#slides-view");
  const title = $("#slides-title");
  const where = $("#slides-where");
  const img = $("#slides-img");
  const text = $("#slides-text");
  const prev = $("#slides-prev");
  const next = $("#slides-next");
  const live = $("#slides-live");
  const full = $("#slides-full");
  const uploadBox = $("#slides-upload");
  let own = null;         // the page this person browses to on their own, or null: live
  let drawn = "";         // deck|page on the screen now
  const cache = new Map(); // deck|page -> {url, text}

  const model = () => store.model;
  const token = () => (session() && session().token) || "";
  const shown = () => (store.ready ? model().slideShown : null);
  const deckOf = (id) => (store.ready ? model().decks.get(id) : null);
  const topicTitle = (deck) => {
    const topic = deck && deck.topic ? (model().event.topics || []).find((x) => x.id === deck.topic) : null;
    return (topic && topic.title) || (deck && deck.title) || "";
  };
  function presenter() {
    if (!store.ready) return false;
    if (isModerator(model())) return true;
    const f = model().floor && model().floor.get(model().myRoom);
    return Boolean(f && f.participant === model().me.id);
  }

  async function load(deck, page) {
    const key = `${deck}|${page}`;
    if (cache.has(key)) return cache.get(key);
    const base = `/api/events/${encodeURIComponent(eventId)}/slides/${encodeURIComponent(deck)}/pages/${page}`;
    const headers = { Authorization: `Bearer ${token()}` };
    const [image, words] = await Promise.all([
      fetch(base, { headers, credentials: "same-origin" }),
      fetch(`${base}/text`, { headers, credentials: "same-origin" }),
    ]);
    if (!image.ok) throw new Error("page");
    const entry = { url: URL.createObjectURL(await image.blob()), text: words.ok ? (await words.json()).text : "" };
    cache.set(key, entry);
    return entry;
  }

  async function draw() {
    const s = shown();
    const deck = s ? deckOf(s.slides) : null;
    show(view, Boolean(deck));
    document.dispatchEvent(new CustomEvent("stage:change"));
    drawUpload();
    if (!deck) { drawn = ""; own = null; return; }
    if (own !== null && (own < 1 || own > deck.pages || own === s.page)) own = null;
    const page = own ?? s.page;
    const topic = topicTitle(deck);
    setText(title, t("slides.title", { topic }));
    setText(where, own !== null ? t("slides.where_own", { n: page, total: deck.pages, live: s.page })
      : t("slides.where", { n: page, total: deck.pages }));
    prev.disabled = page <= 1;
    next.disabled = page >= deck.pages;
    show(live, own !== null);
    const key = `${deck.id}|${page}`;
    if (key === drawn) return;
    drawn = key;
    try {
      const got = await load(deck.id, page);
      if (drawn !== key) return;  // turned on meanwhile
      img.src = got.url;
      img.alt = t("slides.img_alt", { n: page, total: deck.pages, topic });
      clear(text).append(got.text ? got.text : t("slides.no_text"));
      view.dataset.page = String(page);
    } catch {
      drawn = "";
    }
  }

  async function turn(step) {
    const s = shown();
    const deck = s ? deckOf(s.slides) : null;
    if (!deck) return;
    const page = Math.min(deck.pages, Math.max(1, (own ?? s.page) + step));
    if (presenter() && own === null) {
      try {
        await socket().request("slides.show", { slides: deck.id, page });
      } catch (err) { notify(t(errorKey(err))); }
    } else {
      own = page;
      draw();
    }
  }
  prev.addEventListener("click", () => turn(-1));
  next.addEventListener("click", () => turn(1));
  live.addEventListener("click", () => { own = null; draw(); next.focus(); });
  full.addEventListener("click", () => {
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
    else view.requestFullscreen?.().catch(() => {});
  });
  // Arrow keys turn pages while the slides are on the stage and no text field has focus.
  document.addEventListener("keydown", (ev) => {
    if (view.hidden || ev.altKey || ev.ctrlKey || ev.metaKey) return;
    if (ev.key !== "ArrowLeft" && ev.key !== "ArrowRight") return;
    const target = ev.target;
    const inside = target && target.closest && target.closest("#slides-view");
    const free = target === document.body || target === document.documentElement || (target && target.id === "event-title");
    if (!inside && !free) return;
    if (target && target.closest && target.closest("[role=tablist]")) return;
    ev.preventDefault();
    turn(ev.key === "ArrowLeft" ? -1 : 1);
  });

  // -- moderators: upload a PDF per topic, put slides on the stage or take them off -------
  const status = h("p", { class: "hint", attrs: { role: "status" } });
  let uploadDrawn = "";  // what the box shows: redrawn only when that changes (a chosen file stays)
  function drawUpload() {
    if (!uploadBox) return;
    const moderator = store.ready && isModerator(model());
    show(uploadBox, moderator);
    if (!moderator) { uploadDrawn = ""; return; }
    const key = JSON.stringify([(model().event.topics || []).map((x) => [x.id, x.title]),
      [...model().decks.keys()], shown() ? shown().slides : null]);
    if (key === uploadDrawn) return;
    uploadDrawn = key;
    const focusKey = uploadBox.contains(document.activeElement) ? document.activeElement.dataset.fkey : null;
    clear(uploadBox).append(h("h3", {}, t("slides.upload_title")));
    for (const topic of model().event.topics || []) {
      const id = `slides-file-${topic.id}`;
      const input = h("input", { id, type: "file", attrs: { accept: "application/pdf,.pdf" } });
      const button = h("button", { type: "button", class: "btn btn--small", data: { fkey: `up-${topic.id}` },
        on: { click: () => upload(topic, input, button) } }, t("slides.upload"));
      uploadBox.append(h("div", { class: "slides-upload__topic" },
        h("label", { attrs: { for: id } }, t("slides.upload_label", { topic: topic.title })),
        h("div", { class: "slides-upload__row" }, input, button)));
      for (const deck of model().decks.values()) {
        if (deck.topic !== topic.id) continue;
        const on = shown() && shown().slides === deck.id;
        uploadBox.append(h("div", { class: "slides-upload__row" },
          h("span", {}, t("slides.deck_item", { title: deck.title || topic.title, pages: deck.pages })),
          h("button", { type: "button", class: `btn btn--small${on ? "" : " btn--primary"}`, data: { fkey: `show-${deck.id}` },
            on: { click: () => present(on ? null : deck.id) } },
          on ? t("slides.hide") : t("slides.show", { topic: topic.title }))));
      }
    }
    uploadBox.append(status);
    if (focusKey) uploadBox.querySelector(`[data-fkey="${focusKey}"]`)?.focus();
  }

  // The presenter scrolled down to the decks: the slide they put on the stage comes into
  // view once it shows (whether the event or the reply arrives first).
  let reveal = false;
  function revealView() {
    if (!reveal || view.hidden) return;
    reveal = false;
    requestAnimationFrame(() => view.scrollIntoView({ block: "nearest" }));
  }

  async function present(deck) {
    reveal = Boolean(deck);
    try {
      await socket().request("slides.show", deck ? { slides: deck, page: 1 } : { slides: null });
      revealView();
    } catch (err) { reveal = false; notify(t(errorKey(err))); }
  }

  async function upload(topic, input, button) {
    const file = input.files && input.files[0];
    if (!file) { input.focus(); return; }
    button.disabled = true;
    setText(status, "");
    try {
      const response = await fetch(`/api/events/${encodeURIComponent(eventId)}/slides?topic=${encodeURIComponent(topic.id)}`, {
        method: "POST",
        headers: { Authorization: `Bearer ${token()}`, "Content-Type": "application/pdf" },
        credentials: "same-origin",
        body: file,
      });
      if (response.ok) {
        const body = await response.json();
        setText(status, t("slides.uploaded", { pages: body.pages }));
        input.value = "";
      } else {
        setText(status, t(response.status === 413 ? "slides.err_big" : response.status === 422 ? "slides.err_pdf" : "slides.err_generic"));
      }
    } catch {
      setText(status, t("slides.err_generic"));
    } finally {
      button.disabled = false;
    }
  }

  for (const kind of ["reset", "slides.added", "slides.shown", "floor.given", "floor.ended", "participant.moved"]) {
    store.subscribe(kind, draw);
  }
  store.subscribe("slides.shown", revealView);
}
