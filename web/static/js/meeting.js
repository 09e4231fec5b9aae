// The meeting screen around the feature modules: the side panel's tabs (with unread
// badges), the alerts pinned in view (a new poll, "you have the floor" with the audio
// prompt), the top bar's room and countdown, the read-only ended state, and where the
// keyboard lands after joining.
//
// The tab panels sit side by side in one horizontally scrolling strip. Choosing a tab
// scrolls its panel into view; anything that scrolls another panel into view (keyboard
// focus moving there, a search, a link) makes that panel's tab the chosen one. So nothing
// in a panel is ever unreachable, and the tab always names what is shown.

import { $, show, setText } from "./dom.js";
import { t } from "./i18n.js";
import { isModerator } from "./state.js";
import { audio } from "./media.js";
import { clockText, onTick, secondsUntil } from "./clock.js";
import * as slides from "./slides.js";

export function install(context) {
  const { store, eventId } = context;
  slides.install(context);
  const live = $("#live");
  const tabs = [...document.querySelectorAll("#side-tabs [role=tab]")];
  const strip = $("#side-panels");
  const panels = tabs.map((tab) => $(`#${tab.getAttribute("aria-controls")}`));
  const unread = new Map(tabs.map((tab) => [tab.dataset.tab, 0]));
  let active = 0;

  // -- tabs ------------------------------------------------------------------------------
  function mark(index) {
    if (index === active && tabs[index].getAttribute("aria-selected") === "true") return;
    active = index;
    tabs.forEach((tab, i) => {
      tab.setAttribute("aria-selected", String(i === index));
      tab.tabIndex = i === index ? 0 : -1;
    });
    setUnread(tabs[index].dataset.tab, 0);
  }

  function select(index, focusTab = false) {
    mark(index);
    strip.scrollTo({ left: leftOf(index), behavior: "instant" });
    if (focusTab) tabs[index].focus();
  }

  const leftOf = (index) => strip.scrollLeft + panels[index].getBoundingClientRect().left - strip.getBoundingClientRect().left;

  function setUnread(key, n) {
    unread.set(key, n);
    const tab = tabs.find((x) => x.dataset.tab === key);
    const badge = tab.querySelector(".tab__badge");
    setText(badge, n ? (n > 99 ? "99+" : String(n)) : "");
    badge.setAttribute("aria-label", t("meeting.unread", { n }));
    show(badge, n > 0);
  }

  /** Something new in a panel: count it unless the person is looking at that panel. */
  function bump(key) {
    const i = tabs.findIndex((x) => x.dataset.tab === key);
    if (i < 0 || (i === active && panelVisible())) return;
    setUnread(key, unread.get(key) + 1);
  }
  const panelVisible = () => strip.getBoundingClientRect().height > 0 && document.visibilityState !== "hidden";

  tabs.forEach((tab, i) => {
    tab.addEventListener("click", () => select(i));
    tab.addEventListener("keydown", (ev) => {
      const to = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[ev.key];
      if (to === undefined) return;
      ev.preventDefault();
      select((to + tabs.length) % tabs.length, true);
    });
  });

  // Which panel is in view follows the strip's scroll position (keyboard focus, finding).
  let scrollFrame = 0;
  strip.addEventListener("scroll", () => {
    cancelAnimationFrame(scrollFrame);
    scrollFrame = requestAnimationFrame(() => {
      const width = strip.clientWidth || 1;
      const index = Math.max(0, Math.min(panels.length - 1, Math.round(strip.scrollLeft / width)));
      mark(index);
    });
  });
  // A resized strip keeps the chosen panel in view.
  new ResizeObserver(() => {
    strip.scrollLeft = leftOf(active);
  }).observe(strip);

  /** Show a panel by its key ("chat", "polls", ...), e.g. from an alert's button. */
  function openTab(key, focusTab = true) {
    const i = tabs.findIndex((x) => x.dataset.tab === key);
    if (i >= 0) select(i, focusTab);
  }

  const me = () => (store.ready ? store.model.me.id : null);
  store.subscribe("chat.message", (ev) => {
    if (ev.room === store.model.myRoom && (!ev.message.author || ev.message.author.id !== me())) bump("chat");
  });
  store.subscribe("participant.joined", (ev) => { if (ev.participant && ev.participant.id !== me()) bump("people"); });
  store.subscribe("lobby.waiting", () => { if (isModerator(store.model)) bump("people"); });
  store.subscribe("hand.raised", (ev) => { if (ev.participant !== me() && ev.room === store.model.myRoom) bump("hands"); });
  store.subscribe("question.asked", (ev) => { if (!ev.question.author || ev.question.author.id !== me()) bump("qa"); });
  store.subscribe("poll.opened", () => bump("polls"));
  store.subscribe("minutes.added", (ev) => { if (!ev.entry.author || ev.entry.author.id !== me()) bump("minutes"); });
  store.subscribe("reset", () => { if (!store.ready) for (const key of unread.keys()) setUnread(key, 0); });

  // With no polls the panel says so (the polls section itself stays hidden then).
  const pollsNone = $("#polls-none");
  const pollsSection = $("#polls");
  new MutationObserver(() => show(pollsNone, pollsSection.hidden)).observe(pollsSection, { attributes: true, attributeFilter: ["hidden"] });

  // -- alerts in view ----------------------------------------------------------------------
  const pollAlert = $("#poll-alert");
  const pollAlertText = $("#poll-alert-text");
  store.subscribe("poll.opened", (ev) => {
    const poll = ev.poll || {};
    if (isModerator(store.model) || (poll.scope === "room" && poll.room && poll.room !== store.model.myRoom)) return;
    if (poll.scope === "all_breakouts" && !(poll.rooms || []).includes(store.model.myRoom)) return;
    setText(pollAlertText, t("meeting.poll_new", { question: poll.question || "" }));
    show(pollAlert, true);
  });
  $("#poll-alert-open").addEventListener("click", () => { show(pollAlert, false); openTab("polls"); });
  $("#poll-alert-dismiss").addEventListener("click", () => show(pollAlert, false));

  const floorAlert = $("#floor-alert");
  const floorText = $("#floor-alert-text");
  const floorAudio = $("#floor-alert-audio");
  let floorAction = null;
  // "You have the floor" (or a moderator's "please unmute"): join the audio or unmute.
  function floorPrompt(asker = null) {
    const say = (floorKey, askKey) => setText(floorText, asker ? t(askKey, { name: asker }) : t(floorKey));
    if (!audio.joined()) {
      say("meeting.floor_join_audio", "meeting.ask_join");
      setText(floorAudio, t("meeting.floor_btn_join"));
      floorAction = () => audio.join();
    } else if (audio.muted()) {
      say("meeting.floor_unmute", "meeting.ask_unmute");
      setText(floorAudio, t("meeting.floor_btn_unmute"));
      floorAction = () => audio.unmute();
    } else {
      if (asker) return;  // already heard: nothing to do
      say("meeting.floor_go", "meeting.floor_go");
      floorAction = null;
    }
    show(floorAudio, Boolean(floorAction));
    show(floorAlert, true);
  }
  store.subscribe("media.unmute_asked", (ev) => { if (ev.participant === me()) floorPrompt(ev.name || ""); });
  floorAudio.addEventListener("click", () => {
    if (floorAction) floorAction();
    show(floorAlert, false);
  });
  $("#floor-alert-dismiss").addEventListener("click", () => show(floorAlert, false));
  store.subscribe("floor.given", (ev) => {
    if (ev.participant === me()) floorPrompt();
    else show(floorAlert, false);
  });
  store.subscribe("floor.ended", (ev) => { if (ev.participant === me()) show(floorAlert, false); });

  // A call for help from a breakout room (moderators): stays in view until answered.
  const helpAlert = $("#help-alert");
  const helpText = $("#help-alert-text");
  const helpGo = $("#help-alert-go");
  let helpRoom = null;
  store.subscribe("help.requested", (ev) => {
    const rooms = (store.model.breakouts && store.model.breakouts.rooms) || [];
    const n = rooms.findIndex((r) => r.id === ev.room) + 1;
    helpRoom = ev.room;
    setText(helpText, t("breakouts.help_notice", { name: ev.name, n }));
    setText(helpGo, t("meeting.help_go", { n }));
    show(helpAlert, true);
  });
  const helpDone = () => { helpRoom = null; show(helpAlert, false); };
  store.subscribe("help.cleared", (ev) => { if (ev.room === helpRoom) helpDone(); });
  store.subscribe("breakouts.closed", helpDone);
  $("#help-alert-dismiss").addEventListener("click", helpDone);
  helpGo.addEventListener("click", async () => {
    if (!helpRoom) return;
    try {
      await context.socket().request("room.enter", { room: helpRoom });
      helpDone();
    } catch { /* the panel of rooms says why */ }
  });

  // -- top bar: where I am, the time left ------------------------------------------------
  const where = $("#top-where");
  const room = $("#top-room");
  const time = $("#top-time");
  function drawWhere() {
    if (!store.ready) { show(where, false); return; }
    const m = store.model;
    const r = m.rooms.get(m.myRoom);
    const plenary = !r || m.myRoom === m.event.plenary_room || r.kind !== "breakout";
    setText(room, plenary ? t("meeting.plenary") : r.title);
    show(where, true);
    tick();
  }
  function tick() {
    if (!store.ready) return;
    const b = store.model.breakouts;
    const left = b && b.status === "open" && b.endsAt ? secondsUntil(b.endsAt) : null;
    setText(time, left !== null ? t("meeting.time_left", { time: clockText(Math.max(0, left)) }) : "");
    time.classList.toggle("is-soon", left !== null && left <= 60);
    show(time, left !== null);
  }
  onTick(tick);
  for (const kind of ["reset", "participant.moved", "breakouts.opened", "breakouts.closed", "breakouts.extended"]) {
    store.subscribe(kind, drawWhere);
  }

  // -- the ended event: read-only, one notice with the way to the minutes ------------------
  const reviewLink = $("#ended-review");
  function drawEnded() {
    const ended = store.ready && store.model.event.status === "ended";
    if (ended) live.dataset.ended = "true";
    else delete live.dataset.ended;
    if (!ended) return;
    const review = $("#minutes-review");
    if (review && review.getAttribute("href") && review.getAttribute("href") !== "#") reviewLink.href = review.href;
    else reviewLink.href = `/events/${encodeURIComponent(eventId)}/review`;
    for (const el of live.querySelectorAll("#controlbar button, #chat-form textarea, #chat-form button, #qa-form textarea, #qa-form button, #qa-form input")) {
      el.disabled = true;
    }
    show(pollAlert, false);
    show(floorAlert, false);
    show(helpAlert, false);
    audio.leave();
  }
  store.subscribe("reset", drawEnded);
  store.subscribe("event.ended", drawEnded);

  // -- "not you? join anew" forgets this browser's identity: ask first ------------------------
  document.addEventListener("click", (ev) => {
    if (!ev.target.closest || !ev.target.closest("#not-me")) return;
    if (window.confirm(t("meeting.not_me_confirm"))) return;
    ev.preventDefault();
    ev.stopPropagation();
  }, true);

  // -- the keyboard after joining: on the event's name, not lost on the page ----------------
  let placed = false;
  store.subscribe("reset", () => {
    if (!store.ready) { placed = false; return; }
    if (placed) return;
    placed = true;
    const active = document.activeElement;
    if (!active || active === document.body || active.closest("#join")) {
      const title = $("#event-title");
      title.tabIndex = -1;
      title.focus();
    }
  });
}
