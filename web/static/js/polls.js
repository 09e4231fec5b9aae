// Live polls: the moderators' create form, a card per poll for everyone who can see it
// (vote form, "your vote is counted", results as bars with numbers and percentages, rating
// distribution and mean, text answers as a list and a word cloud), close and show again.

import { $, clear, h, show, setText } from "./dom.js";
import { pageLang, t } from "./i18n.js";
import { isModerator } from "./state.js";

const KINDS = ["single", "multiple", "rating", "text"];
const TEXT_MAX = 280;

function pct(n, total) {
  return total > 0 ? Math.round((n / total) * 100) : 0;
}

function number(value, digits = 1) {
  try {
    return new Intl.NumberFormat(pageLang(), { maximumFractionDigits: digits }).format(value);
  } catch {
    return String(value);
  }
}

export function install({ store, socket, notify }) {
  // -- model -------------------------------------------------------------------------
  const item = (poll) => ({ poll: { ...poll }, voted: false, myVote: null, results: null, votes: new Map() });
  store.onReset((model, state) => {
    model.polls = new Map();
    for (const x of state.polls || []) {
      const it = item(x.poll);
      it.voted = Boolean(x.voted);
      it.myVote = x.my_vote || null;
      it.results = x.results || null;
      for (const v of x.votes || []) it.votes.set(v.participant, v);
      model.polls.set(x.poll.id, it);
    }
  });
  store.on("poll.opened", (model, ev) => {
    if (!model.polls.has(ev.poll.id)) model.polls.set(ev.poll.id, item(ev.poll));
  });
  store.on("poll.results", (model, ev) => {
    const it = model.polls.get(ev.poll);
    if (it) it.results = ev;
  });
  store.on("poll.closed", (model, ev) => {
    const it = model.polls.get(ev.poll);
    if (it) it.poll.status = "closed";
  });
  store.on("poll.voted", (model, ev) => {
    const it = model.polls.get(ev.poll);
    if (!it) return;
    it.votes.set(ev.participant, { participant: ev.participant, name: ev.name, room: ev.room, keys: ev.keys, text: ev.text });
    if (ev.participant === model.me.id) {
      it.voted = true;
      it.myVote = { keys: ev.keys, text: ev.text };
    }
  });

  const model = () => store.model;
  const moderator = () => isModerator(model());
  const canVote = (poll) => !(poll.scope === "all_breakouts" && moderator());
  function visible(poll) {
    const m = model();
    if (poll.scope === "event") return true;
    if (poll.scope === "room") return poll.room === m.myRoom;
    return moderator() || (poll.rooms || []).includes(m.myRoom);
  }

  // -- elements ----------------------------------------------------------------------
  const section = $("#polls");
  const list = $("#poll-list");
  const createBox = $("#polls-create");
  const cards = new Map();  // poll id -> {li, ui state}

  // -- the create form (moderators) --------------------------------------------------
  const cErr = h("p", { class: "form-error", attrs: { role: "alert" }, hidden: true });
  const question = h("textarea", { id: "pc-question", rows: 2, maxLength: 500 });
  const kindRadio = (k) => h("label", { class: "choice choice--inline" },
    h("input", { type: "radio", name: "pc-kind", value: k, checked: k === "single" }),
    h("span", {}, t(`polls.kind_${k}`)));
  const optionRows = h("ol", { class: "pc-options" });
  const addOption = h("button", { type: "button", class: "btn btn--small" }, t("polls.option_add"));
  const optionsBox = h("fieldset", { class: "pc-options-box" },
    h("legend", {}, t("polls.options")), optionRows, addOption);
  const maxChoices = h("input", { id: "pc-max", type: "number", min: "1", max: "20", attrs: { inputmode: "numeric" } });
  const maxBox = h("div", { class: "field field--num", hidden: true },
    h("label", { htmlFor: "pc-max" }, t("polls.max_choices")), maxChoices,
    h("p", { class: "hint" }, t("polls.max_choices_hint")));
  const scaleLo = h("input", { id: "pc-lo", type: "number", min: "-10", max: "10", value: "1" });
  const scaleHi = h("input", { id: "pc-hi", type: "number", min: "-10", max: "10", value: "5" });
  const scaleBox = h("div", { class: "form-row", hidden: true },
    h("div", { class: "field field--num" }, h("label", { htmlFor: "pc-lo" }, t("polls.scale_lo")), scaleLo),
    h("div", { class: "field field--num" }, h("label", { htmlFor: "pc-hi" }, t("polls.scale_hi")), scaleHi));
  const anonymous = h("input", { id: "pc-anon", type: "checkbox" });
  const resultsRadio = (v) => h("label", { class: "choice choice--inline" },
    h("input", { type: "radio", name: "pc-results", value: v, checked: v === "live" }),
    h("span", {}, t(`polls.results_${v}`)));
  const scope = h("select", { id: "pc-scope" });
  const createSubmit = h("button", { type: "submit", class: "btn btn--primary" }, t("polls.create_submit"));
  const createForm = h("form", { class: "pc-form", attrs: { novalidate: true } },
    h("div", { class: "field" }, h("label", { htmlFor: "pc-question" }, t("polls.question")), question),
    h("fieldset", { class: "choices choices--row" }, h("legend", {}, t("polls.kind")), KINDS.map(kindRadio)),
    optionsBox, maxBox, scaleBox,
    h("div", { class: "field" }, h("label", { htmlFor: "pc-scope" }, t("polls.scope")), scope),
    h("fieldset", { class: "choices choices--row" }, h("legend", {}, t("polls.results_mode")),
      resultsRadio("live"), resultsRadio("on_close")),
    h("div", { class: "field" }, h("label", { class: "choice choice--inline", htmlFor: "pc-anon" }, anonymous,
      h("span", {}, t("polls.anonymous"))), h("p", { class: "hint" }, t("polls.anonymous_hint"))),
    cErr, createSubmit);
  const createDetails = h("details", { class: "pc" },
    h("summary", { class: "btn" }, t("polls.create_open")), createForm);
  createBox.append(createDetails);

  function renumberOptions() {
    [...optionRows.children].forEach((li, i) => {
      const input = li.querySelector("input");
      const label = li.querySelector("label");
      const remove = li.querySelector("button");
      input.id = `pc-opt-${i}`;
      label.htmlFor = input.id;
      label.textContent = t("polls.option_n", { n: i + 1 });
      remove.setAttribute("aria-label", t("polls.option_remove_label", { n: i + 1 }));
      remove.disabled = optionRows.children.length <= 2;
    });
  }
  function addOptionRow(value = "") {
    const input = h("input", { type: "text", maxLength: 200, value });
    const li = h("li", { class: "pc-option" }, h("label", {}), h("div", { class: "pc-option__row" }, input,
      h("button", { type: "button", class: "btn btn--small btn--quiet",
        on: { click: () => { li.remove(); renumberOptions(); optionRows.querySelector("input")?.focus(); } } },
      t("polls.option_remove"))));
    optionRows.append(li);
    renumberOptions();
    return input;
  }
  addOption.addEventListener("click", () => { if (optionRows.children.length < 20) addOptionRow().focus(); });
  function resetCreateForm() {
    question.value = "";
    clear(optionRows);
    addOptionRow();
    addOptionRow();
    maxChoices.value = "";
    anonymous.checked = false;
    show(cErr, false);
  }
  resetCreateForm();
  const kindOf = () => (createForm.querySelector("input[name=pc-kind]:checked") || {}).value || "single";
  function kindChanged() {
    const k = kindOf();
    show(optionsBox, k === "single" || k === "multiple");
    show(maxBox, k === "multiple");
    show(scaleBox, k === "rating");
  }
  createForm.addEventListener("change", (ev) => { if (ev.target.name === "pc-kind") kindChanged(); });
  kindChanged();

  function fillScopes() {
    if (!store.ready) return;
    const m = model();
    const keep = scope.value;
    clear(scope);
    const room = m.rooms.get(m.myRoom);
    const here = m.myRoom === m.event.plenary_room || !room ? t("polls.scope_plenary") : t("polls.scope_room", { title: room.title });
    scope.append(h("option", { value: "room" }, here));
    if (m.breakouts && m.breakouts.status === "open") scope.append(h("option", { value: "all_breakouts" }, t("polls.scope_all_breakouts")));
    scope.append(h("option", { value: "event" }, t("polls.scope_event")));
    if ([...scope.options].some((o) => o.value === keep)) scope.value = keep;
  }

  function createError(key, focus) {
    setText(cErr, t(key));
    show(cErr, true);
    if (focus) focus.focus();
  }

  createForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    show(cErr, false);
    const kind = kindOf();
    const body = {
      question: question.value.trim(), kind, scope: scope.value || "room",
      anonymous: anonymous.checked,
      results: (createForm.querySelector("input[name=pc-results]:checked") || {}).value || "live",
    };
    if (!body.question) return createError("polls.err_question", question);
    if (body.scope === "room") body.room = model().myRoom;
    if (kind === "single" || kind === "multiple") {
      const inputs = [...optionRows.querySelectorAll("input")];
      body.options = inputs.map((i) => i.value.trim()).filter(Boolean);
      if (body.options.length < 2) return createError("polls.err_options", inputs.find((i) => !i.value.trim()) || inputs[0]);
      if (new Set(body.options.map((o) => o.toLowerCase())).size !== body.options.length) return createError("polls.err_options_twice", inputs[0]);
      if (kind === "multiple" && maxChoices.value.trim()) {
        const n = parseInt(maxChoices.value, 10);
        if (!(n >= 1 && n <= body.options.length)) return createError("polls.err_max", maxChoices);
        body.max_choices = n;
      }
    }
    if (kind === "rating") {
      const lo = parseInt(scaleLo.value, 10), hi = parseInt(scaleHi.value, 10);
      if (!(Number.isFinite(lo) && Number.isFinite(hi) && lo < hi && hi - lo <= 10 && lo >= -10 && hi <= 10)) return createError("polls.err_scale", scaleLo);
      body.scale = [lo, hi];
    }
    createSubmit.disabled = true;
    try {
      await socket().request("poll.create", body);
      resetCreateForm();
      createDetails.open = false;
      createDetails.querySelector("summary").focus();
    } catch (err) {
      createError({ conflict: "polls.err_too_many", forbidden: "err_forbidden", offline: "err_offline", interrupted: "err_offline" }[err.code] || "polls.err_create");
    } finally {
      createSubmit.disabled = false;
    }
  });

  // -- one poll card ------------------------------------------------------------------
  function optionLabels(poll) {
    if (poll.kind === "rating") {
      const [lo, hi] = poll.scale || [1, 5];
      const out = [];
      for (let v = lo; v <= hi; v += 1) out.push(String(v));
      return out;
    }
    return poll.options || [];
  }

  function voteForm(it, ui) {
    const poll = it.poll;
    const name = `poll-${poll.id}`;
    const mine = new Set((it.myVote && it.myVote.keys) || []);
    const fields = [];
    let hint = null;
    if (poll.kind === "single" || poll.kind === "multiple") {
      const type = poll.kind === "single" ? "radio" : "checkbox";
      poll.options.forEach((opt, i) => {
        fields.push(h("label", { class: "choice choice--big" },
          h("input", { type, name, value: String(i), checked: mine.has(String(i)) }),
          h("span", {}, opt)));
      });
      if (poll.kind === "multiple") hint = poll.max_choices ? t("polls.pick_up_to", { n: poll.max_choices }) : t("polls.pick_many");
    } else if (poll.kind === "rating") {
      const [lo, hi] = poll.scale || [1, 5];
      const row = [];
      for (let v = lo; v <= hi; v += 1) {
        row.push(h("label", { class: "rating__step" },
          h("input", { type: "radio", name, value: String(v), checked: mine.has(String(v)) }),
          h("span", {}, String(v))));
      }
      fields.push(h("div", { class: "rating" }, row));
      hint = t("polls.rating_hint", { lo, hi });
    } else {
      const id = `poll-text-${poll.id}`;
      fields.push(h("label", { htmlFor: id, class: "visually-hidden" }, t("polls.text_label")),
        h("textarea", { id, name, rows: 2, maxLength: TEXT_MAX, value: (it.myVote && it.myVote.text) || "" }));
      hint = t("polls.text_hint", { n: TEXT_MAX });
    }
    const submit = h("button", { type: "submit", class: "btn btn--primary btn--big" }, t("polls.vote"));
    const hintId = `poll-hint-${poll.id}`;
    const form = h("form", { class: "poll-form", attrs: { novalidate: true } },
      h("fieldset", { attrs: hint ? { "aria-describedby": hintId } : {} },
        h("legend", { class: "poll-card__question" }, poll.question),
        hint ? h("p", { id: hintId, class: "hint" }, hint) : null,
        fields),
      submit);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const body = { poll: poll.id };
      if (poll.kind === "single") {
        const c = form.querySelector("input:checked");
        if (!c) return fail(ui, "polls.err_pick");
        body.choice = Number(c.value);
      } else if (poll.kind === "multiple") {
        const cs = [...form.querySelectorAll("input:checked")].map((c) => Number(c.value));
        if (!cs.length) return fail(ui, "polls.err_pick");
        if (poll.max_choices && cs.length > poll.max_choices) return fail(ui, "polls.err_too_many_choices", { n: poll.max_choices });
        body.choices = cs;
      } else if (poll.kind === "rating") {
        const c = form.querySelector("input:checked");
        if (!c) return fail(ui, "polls.err_rate");
        body.rating = Number(c.value);
      } else {
        const text = form.querySelector("textarea").value.trim();
        if (!text) return fail(ui, "polls.err_text");
        body.text = text;
      }
      submit.disabled = true;
      try {
        await socket().request("poll.vote", body);
        const cur = model().polls.get(poll.id);
        if (cur) {
          cur.voted = true;
          if (!poll.anonymous) {
            cur.myVote = { keys: body.choice !== undefined ? [String(body.choice)] : body.choices ? body.choices.map(String)
              : body.rating !== undefined ? [String(body.rating)] : [], text: body.text || null };
          }
        }
        ui.changing = false;
        ui.error = null;
        ui.announce = poll.anonymous ? t("polls.counted_anonymous") : t("polls.counted");
        drawCard(poll.id, { voteArea: true });
        // The form is gone: keep the keyboard on this card, at the confirmation.
        const counted = cards.get(poll.id)?.li.querySelector(".poll-counted");
        if (counted) { counted.tabIndex = -1; counted.focus(); }
      } catch (err) {
        submit.disabled = false;
        requestAnimationFrame(() => cards.get(poll.id)?.li.querySelector(".poll-form button[type=submit]")?.focus());
        if (err.code === "conflict") {
          fail(ui, /closed/i.test(err.message) ? "polls.err_closed" : "polls.err_already");
        } else if (err.code === "forbidden") fail(ui, "polls.err_forbidden");
        else if (err.code === "too_large") fail(ui, "polls.err_text_long", { n: TEXT_MAX });
        else if (err.code === "invalid") fail(ui, "polls.err_invalid");
        else if (err.code === "offline" || err.code === "interrupted") fail(ui, "err_offline");
        else fail(ui, "err_generic");
      }
    });
    return form;
  }

  function fail(ui, key, params) {
    ui.error = t(key, params);
    drawCard(ui.id, {});
  }

  function voteArea(it, ui) {
    const poll = it.poll;
    const open = poll.status !== "closed" && model().event.status !== "ended";
    if (!canVote(poll)) {
      return h("p", { class: "poll-card__question" }, poll.question);
    }
    if (open && (!it.voted || ui.changing)) return voteForm(it, ui);
    const parts = [h("p", { class: "poll-card__question" }, poll.question)];
    if (it.voted) {
      parts.push(h("p", { class: "poll-counted" },
        h("span", { class: "poll-counted__mark", attrs: { "aria-hidden": "true" } }, "✓"),
        " ", poll.anonymous ? t("polls.counted_anonymous") : t("polls.counted")));
      if (it.myVote && !poll.anonymous) {
        const labels = optionLabels(poll);
        const what = it.myVote.text || (poll.kind === "rating" ? (it.myVote.keys || []).join(", ")
          : (it.myVote.keys || []).map((k) => labels[Number(k)]).filter(Boolean).join(", "));
        const change = open ? h("button", { type: "button", class: "btn btn--small btn--quiet",
          on: { click: () => { ui.changing = true; drawCard(poll.id, { voteArea: true }); } } }, t("polls.change_vote")) : null;
        if (what) parts.push(h("p", { class: "hint poll-mine" }, t("polls.your_vote", { vote: what }), change ? " " : null, change));
        else if (change) parts.push(change);
      }
    } else if (!open) {
      parts.push(h("p", { class: "muted" }, t("polls.closed_no_vote")));
    }
    return h("div", {}, parts);
  }

  function bars(labels, counts, total, caption) {
    return h("ul", { class: "poll-bars", attrs: { "aria-label": caption } },
      labels.map((label, i) => {
        const n = counts[i] || 0;
        const p = pct(n, total);
        const fill = h("span", { class: "poll-bar__fill" });
        fill.style.setProperty("--share", `${p}%`);
        return h("li", { class: "poll-bar", data: { option: String(i) } },
          h("span", { class: "poll-bar__label" }, label),
          h("span", { class: "poll-bar__track", attrs: { "aria-hidden": "true" } }, fill),
          h("span", { class: "poll-bar__num" }, t(n === 1 ? "polls.votes_one" : "polls.votes_n", { n }), ` · ${p} %`));
      }));
  }

  function resultsArea(it) {
    const poll = it.poll;
    let r = it.results;
    const out = [];
    if (!r) {
      if (poll.results === "on_close" && poll.status !== "closed") {
        out.push(h("p", { class: "muted" }, t("polls.on_close_note")));
        return out;
      }
      // A live poll before its first vote: empty bars.
      r = { counts: optionLabels(poll).map(() => 0), total: 0, eligible: null, final: poll.status === "closed", answers: [], words: [] };
    }
    out.push(h("div", { class: "poll-results__head" },
      h("h4", { class: "poll-results__title" }, r.final ? t("polls.final") : t("polls.live")),
      h("p", { class: "poll-participation" }, r.eligible == null ? t("polls.no_votes_yet")
        : t("polls.participation", { n: r.total, m: Math.max(r.eligible || 0, r.total) }))));
    const labels = optionLabels(poll);
    if (poll.kind === "single" || poll.kind === "multiple") {
      out.push(bars(labels, r.counts || [], r.total, t("polls.results_label")));
    } else if (poll.kind === "rating") {
      const answered = (r.counts || []).reduce((a, b) => a + b, 0);
      out.push(bars(labels, r.counts || [], answered, t("polls.results_label")));
      out.push(h("p", { class: "poll-mean" }, r.mean == null ? t("polls.mean_none") : t("polls.mean", { mean: number(r.mean, 2) })));
    } else {
      const words = r.words || [];
      if (words.length) {
        const max = Math.max(...words.map((w) => w[1]));
        out.push(h("ul", { class: "word-cloud", attrs: { "aria-label": t("polls.word_cloud") } },
          words.map(([word, n]) => h("li", { class: `word-cloud__w word-cloud__w--${Math.max(1, Math.ceil((n / max) * 5))}` },
            word, h("span", { class: "visually-hidden" }, ` (${n})`)))));
      }
      const answers = r.answers || [];
      out.push(answers.length
        ? h("ul", { class: "poll-answers", attrs: { "aria-label": t("polls.answers") } }, answers.map((a) => h("li", {}, a)))
        : h("p", { class: "muted" }, t("polls.no_answers")));
    }
    if (r.per_room && moderator()) {
      const rooms = Object.entries(r.per_room);
      const det = h("details", { class: "poll-per-room" }, h("summary", {}, t("polls.per_room")));
      for (const [roomId, pr] of rooms) {
        const room = model().rooms.get(roomId);
        det.append(h("h5", {}, room ? room.title : roomId));
        if (pr.counts) det.append(bars(labels, pr.counts, pr.counts.reduce((a, b) => a + b, 0), room ? room.title : roomId));
        else det.append(h("ul", { class: "poll-answers" }, (pr.answers || []).map((a) => h("li", {}, a))));
      }
      out.push(det);
    }
    return out;
  }

  function modArea(it, ui) {
    if (!moderator()) return [];
    const poll = it.poll;
    const out = [];
    const actions = h("div", { class: "poll-card__actions" });
    if (poll.status !== "closed") {
      actions.append(h("button", { type: "button", class: "btn", data: { fkey: `close-${poll.id}` },
        attrs: { "aria-label": t("polls.close_label", { question: poll.question }) },
        on: { click: () => act(ui, "poll.close", poll.id) } }, t("polls.close")));
    } else {
      actions.append(h("button", { type: "button", class: "btn", data: { fkey: `show-${poll.id}` },
        attrs: { "aria-label": t("polls.show_label", { question: poll.question }) },
        on: { click: () => act(ui, "poll.show", poll.id) } }, t("polls.show")));
    }
    out.push(actions);
    if (!poll.anonymous && it.votes.size) {
      const labels = optionLabels(poll);
      const det = h("details", { class: "poll-votes" }, h("summary", {}, t("polls.who_voted", { n: it.votes.size })));
      det.open = ui.votesOpen;
      det.addEventListener("toggle", () => { ui.votesOpen = det.open; });
      det.append(h("ul", {}, [...it.votes.values()].sort((a, b) => a.name.localeCompare(b.name)).map((v) => {
        const what = v.text || (poll.kind === "rating" ? (v.keys || []).join(", ") : (v.keys || []).map((k) => labels[Number(k)]).join(", "));
        return h("li", {}, h("strong", {}, v.name), `: ${what}`);
      })));
      out.push(det);
    }
    return out;
  }

  async function act(ui, type, pollId) {
    try {
      await socket().request(type, { poll: pollId });
      ui.error = null;
    } catch (err) {
      ui.error = err.code === "conflict" ? t("polls.err_state") : t("err_generic");
      drawCard(pollId, {});
    }
  }

  function drawCard(id, { voteArea: redoVote = false } = {}) {
    const it = model().polls.get(id);
    const entry = cards.get(id);
    if (!it || !entry) return;
    const { li, ui, parts } = entry;
    const poll = it.poll;
    const ended = model().event.status === "ended";
    const state = `${poll.status}|${it.voted}|${ui.changing}|${ended}`;
    const closed = poll.status === "closed" || ended;
    li.classList.toggle("poll-card--closed", closed);
    setText(parts.kicker, [t("polls.kicker"), t(`polls.kind_${poll.kind}`), poll.anonymous ? t("polls.anonymous_short") : t("polls.named_short")].join(" · "));
    setText(parts.status, closed ? t("polls.status_closed") : t("polls.status_open"));
    parts.status.classList.toggle("badge--muted", closed);
    if (redoVote || ui.voteState !== state) {
      const hadFocus = parts.vote.contains(document.activeElement);
      clear(parts.vote).append(voteArea(it, ui));
      ui.voteState = state;
      if (hadFocus) {
        const target = parts.vote.querySelector("input, textarea, button") || li;
        target.focus();
      }
    }
    setText(parts.error, ui.error || "");
    show(parts.error, Boolean(ui.error));
    setText(parts.announce, ui.announce || "");
    clear(parts.results).append(...resultsArea(it));
    const focusKey = li.contains(document.activeElement) ? document.activeElement.dataset.fkey : null;
    clear(parts.mod).append(...modArea(it, ui));
    if (focusKey) parts.mod.querySelector(`[data-fkey="${focusKey}"]`)?.focus();
  }

  function ensureCard(id) {
    if (cards.has(id)) return cards.get(id);
    const parts = {
      kicker: h("span", { class: "poll-card__kicker" }),
      status: h("span", { class: "badge" }),
      vote: h("div", { class: "poll-card__vote" }),
      error: h("p", { class: "form-error", attrs: { role: "alert" }, hidden: true }),
      announce: h("p", { class: "visually-hidden", attrs: { role: "status" } }),
      results: h("div", { class: "poll-results" }),
      mod: h("div", { class: "poll-card__mod" }),
    };
    const li = h("li", { class: "poll-card", data: { poll: id }, tabIndex: -1 },
      h("h3", { class: "poll-card__head" }, parts.kicker, " ", parts.status),
      parts.vote, parts.error, parts.announce, parts.results, parts.mod);
    const entry = { li, parts, ui: { id, changing: false, error: null, announce: "", voteState: null, votesOpen: false } };
    cards.set(id, entry);
    return entry;
  }

  function redraw() {
    if (!store.ready) {
      clear(list);
      cards.clear();
      show(section, false);
      return;
    }
    const shown = [...model().polls.values()].filter((it) => visible(it.poll));
    const order = [...shown.filter((x) => x.poll.status !== "closed").reverse(),
      ...shown.filter((x) => x.poll.status === "closed").reverse()];
    const keep = new Set(order.map((x) => x.poll.id));
    for (const [id, entry] of cards) if (!keep.has(id)) { entry.li.remove(); cards.delete(id); }
    order.forEach((it, i) => {
      const entry = ensureCard(it.poll.id);
      if (list.children[i] !== entry.li) list.insertBefore(entry.li, list.children[i] || null);
      drawCard(it.poll.id);
    });
    show(createBox, moderator());
    fillScopes();
    show(section, moderator() || order.length > 0);
  }

  store.subscribe("reset", () => { for (const e of cards.values()) e.ui.voteState = null; redraw(); });
  store.subscribe("event.ended", () => { for (const id of cards.keys()) drawCard(id); });
  for (const kind of ["poll.opened", "poll.closed", "participant.moved", "breakouts.opened", "breakouts.closed"]) {
    store.subscribe(kind, redraw);
  }
  store.subscribe("poll.results", (ev) => {
    const it = model().polls.get(ev.poll);
    if (!it || !cards.has(ev.poll)) return;
    drawCard(ev.poll);
    if (ev.shown) {
      const { li } = cards.get(ev.poll);
      li.classList.add("poll-card--shown");
      notify(t("polls.shown_notice", { question: it.poll.question }));
      li.scrollIntoView({ block: "nearest", behavior: "smooth" });
    }
  });
  store.subscribe("poll.voted", (ev) => { if (cards.has(ev.poll)) drawCard(ev.poll); });
  store.subscribe("poll.opened", (ev) => {
    // Participants get the alert that stays (meeting.js); moderators a notice.
    if (moderator() && visible(ev.poll) && ev.poll.status !== "closed") notify(t("polls.opened_notice", { question: ev.poll.question }));
  });
  store.subscribe("poll.closed", (ev) => {
    const entry = cards.get(ev.poll);
    if (entry) {
      entry.ui.announce = t("polls.closed_notice");
      drawCard(ev.poll);
    }
  });
}
