// Questions to the plenary: ask (optionally anonymous), upvote once, sort by votes or
// time; moderators approve (pre-moderation), mark answered, archive, and write the
// answered questions into the minutes.

import { $, clear, h, hhmm, show, setText } from "./dom.js";
import { t } from "./i18n.js";
import { isModerator } from "./state.js";
import { errorKey } from "./resync.js";

const ERRORS = {
  too_large: "qa.err_too_large",
  rate_limited: "qa.err_rate_limited",
  invalid: "qa.err_empty",
  conflict: "qa.err_conflict",
  not_found: "qa.err_gone",
};

export function install({ store, socket, notify }) {
  // -- model -------------------------------------------------------------------------
  store.onReset((model, state) => {
    const qa = state.qa || {};
    model.qa = { premoderation: Boolean(qa.premoderation), questions: new Map() };
    for (const q of qa.questions || []) model.qa.questions.set(q.id, { ...q });
  });
  store.on("question.asked", (model, ev) => {
    const q = ev.question;
    const mine = Boolean(q.author && q.author.id === model.me.id);
    model.qa.questions.set(q.id, { ...q, mine, voted: false, seq: ev.seq });
  });
  store.on("question.voted", (model, ev) => {
    const q = model.qa.questions.get(ev.question);
    if (q) q.votes = ev.votes;
  });
  store.on("question.updated", (model, ev) => {
    const q = ev.question;
    const known = model.qa.questions.get(q.id);
    const mine = known ? known.mine : Boolean(q.author && q.author.id === model.me.id);
    model.qa.questions.set(q.id, { ...(known || {}), ...q, mine, voted: known ? known.voted : false });
  });
  store.on("qa.configured", (model, ev) => { model.qa.premoderation = Boolean(ev.premoderation); });

  // -- elements ----------------------------------------------------------------------
  const form = $("#qa-form");
  const input = $("#qa-input");
  const anonymous = $("#qa-anonymous");
  const error = $("#qa-error");
  const premodNote = $("#qa-premod-note");
  const list = $("#qa-list");
  const answeredTitle = $("#qa-answered-title");
  const answeredList = $("#qa-answered");
  const empty = $("#qa-empty");
  const sortVotes = $("#qa-sort-votes");
  const sortTime = $("#qa-sort-time");
  const modBox = $("#qa-moderation");
  const premod = $("#qa-premod");
  const toMinutes = $("#qa-to-minutes");
  const archivedBox = $("#qa-archived-box");
  const archivedCount = $("#qa-archived-count");
  const archivedList = $("#qa-archived");
  const status = $("#qa-status");
  let sort = "votes";

  const model = () => store.model;

  function order(a, b) {
    if (sort === "votes" && a.votes !== b.votes) return b.votes - a.votes;
    if (sort === "votes") return a.at.localeCompare(b.at);
    return b.at.localeCompare(a.at);  // newest first
  }

  function item(q, moderator) {
    const who = q.author ? q.author.name : t("qa.anonymous_author");
    const open = q.status === "open";
    const li = h("li", { class: `qa-q qa-q--${q.status}${q.mine ? " qa-q--mine" : ""}`, data: { question: q.id } },
      h("div", { class: "qa-q__votes" },
        h("span", { class: "qa-q__count" }, String(q.votes)),
        h("span", { class: "qa-q__count-label" }, q.votes === 1 ? t("qa.vote_one") : t("qa.votes"))),
      h("div", { class: "qa-q__body" },
        h("p", { class: "qa-q__text" }, q.text),
        h("p", { class: "qa-q__meta" },
          h("span", { class: "qa-q__author" }, who),
          q.mine ? ` ${t("me_marker")}` : "",
          " · ",
          h("time", { attrs: { datetime: q.at } }, hhmm(q.at)),
          q.status === "pending" ? h("span", { class: "tag tag--warn" }, t("qa.pending")) : null,
          q.status === "answered" ? h("span", { class: "tag tag--ok" }, t("qa.answered")) : null,
          q.status === "archived" ? h("span", { class: "tag" }, t("qa.archived")) : null),
        h("div", { class: "qa-q__actions" },
          open || q.voted ? h("button", {
            type: "button",
            class: q.voted ? "btn btn--small qa-q__vote is-voted" : "btn btn--small qa-q__vote",
            disabled: !open && !q.voted,
            attrs: {
              "aria-pressed": String(Boolean(q.voted)),
              "aria-label": t(q.voted ? "qa.unvote_label" : "qa.vote_label", { text: short(q.text) }),
            },
            on: { click: () => vote(q) },
          }, q.voted ? t("qa.voted") : t("qa.vote")) : null,
          moderator ? modButtons(q) : null)));
    return li;
  }

  function modButtons(q) {
    const button = (status, key, primary = false) => h("button", {
      type: "button",
      class: primary ? "btn btn--small btn--primary" : "btn btn--small",
      attrs: { "aria-label": t(`${key}_label`, { text: short(q.text) }) },
      on: { click: () => setStatus(q, status) },
    }, t(key));
    switch (q.status) {
      case "pending": return [button("open", "qa.approve", true), button("archived", "qa.archive")];
      case "open": return [button("answered", "qa.mark_answered", true), button("archived", "qa.archive")];
      case "answered": return [button("open", "qa.reopen"), button("archived", "qa.archive")];
      default: return [button("open", "qa.restore")];
    }
  }

  function render() {
    clear(list);
    clear(answeredList);
    clear(archivedList);
    if (!store.ready || !model().qa) return;
    const moderator = isModerator(model());
    const all = [...model().qa.questions.values()];
    const active = all.filter((q) => q.status === "open" || q.status === "pending").sort(order);
    const answered = all.filter((q) => q.status === "answered")
      .sort((a, b) => (a.answered_at || "").localeCompare(b.answered_at || ""));
    const archived = all.filter((q) => q.status === "archived");
    for (const q of active) list.append(item(q, moderator));
    for (const q of answered) answeredList.append(item(q, moderator));
    show(answeredTitle, answered.length > 0);
    show(empty, active.length === 0 && answered.length === 0);
    show(archivedBox, moderator && archived.length > 0);
    if (moderator) {
      for (const q of archived) archivedList.append(item(q, moderator));
      setText(archivedCount, String(archived.length));
    }
    sortVotes.setAttribute("aria-pressed", String(sort === "votes"));
    sortTime.setAttribute("aria-pressed", String(sort === "time"));
    show(modBox, moderator);
    premod.checked = model().qa.premoderation;
    toMinutes.disabled = answered.length === 0;
    show(premodNote, model().qa.premoderation && !moderator);
  }

  function showError(key) {
    setText(error, key ? t(key) : "");
    show(error, Boolean(key));
  }

  async function request(type, body) {
    try {
      return await socket().request(type, body);
    } catch (err) {
      notify(ERRORS[err.code] ? t(ERRORS[err.code]) : t(errorKey(err)));
      return null;
    }
  }

  async function vote(q) {
    const wanted = !q.voted;
    let result = wanted;
    try {
      await socket().request(wanted ? "question.vote" : "question.unvote", { question: q.id });
    } catch (err) {
      // "already voted" / "not voted" (another tab of mine): the server's truth wins.
      if (err.code !== "conflict" || model().qa.questions.get(q.id)?.status !== "open") {
        notify(ERRORS[err.code] ? t(ERRORS[err.code]) : t(errorKey(err)));
        return;
      }
    }
    const current = store.ready && model().qa.questions.get(q.id);
    if (current) {
      current.voted = result;
      render();
    }
  }

  async function setStatus(q, status) {
    await request("question.set", { question: q.id, status });
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = input.value.trim();
    if (!text) {
      showError("qa.err_empty");
      input.focus();
      return;
    }
    if (!store.ready) return;
    try {
      const reply = await socket().request("question.ask", { text, anonymous: anonymous.checked });
      // The question that command caused is mine, even when it is anonymous.
      for (const q of model().qa.questions.values()) if (q.seq === reply.seq) q.mine = true;
      input.value = "";
      anonymous.checked = false;
      showError(null);
      setText(status, model().qa.premoderation && !isModerator(model()) ? t("qa.sent_pending") : t("qa.sent"));
      render();
    } catch (err) {
      showError(ERRORS[err.code] || errorKey(err));
    }
  });
  input.addEventListener("input", () => { if (!error.hidden) showError(null); });

  sortVotes.addEventListener("click", () => { sort = "votes"; render(); });
  sortTime.addEventListener("click", () => { sort = "time"; render(); });
  premod.addEventListener("change", async () => {
    const want = premod.checked;
    if (!(await request("qa.configure", { premoderation: want }))) premod.checked = !want;
  });
  toMinutes.addEventListener("click", async () => {
    if (await request("questions.to_minutes", {})) notify(t("qa.to_minutes_done"));
  });

  for (const topic of ["reset", "question.asked", "question.voted", "question.updated", "qa.configured"]) {
    store.subscribe(topic, render);
  }
  store.subscribe("question.updated", (ev) => {
    const q = model().qa.questions.get(ev.question.id);
    if (q && q.mine && ev.question.status === "open") setText(status, t("qa.approved_notice"));
    if (q && q.mine && ev.question.status === "answered") setText(status, t("qa.answered_notice"));
  });
}

function short(text) {
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
}
