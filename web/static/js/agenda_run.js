// The run of show on the meeting screen (issue 17): everyone sees where the forum stands
// (the step now and the next); moderators advance with one action, "Nächster Punkt"
// (agenda.next), skip or move a step to come and add one live. Below it the
// "Wiedervorlage": actions and questions carried forward from the forum before; a
// moderator (or the assignee) marks an action done, reassigns it or moves its date, and
// says how a question was answered. Who the assignee is, a moderator confirms by choosing
// the person from this forum's participants (a name alone makes nobody the assignee).
// A link opens the page of the whole series (/series/{id}, the event's cookie opens it).
// The section builds its own DOM after #agenda.

import { $, clear, h, show, setText } from "./dom.js";
import { pageLang, t } from "./i18n.js";
import { isModerator } from "./state.js";
import { errorKey } from "./resync.js";

const KINDS = ["welcome", "impulse", "breakout", "report", "poll", "break"];

function stepOf(d, status = "planned") {
  return { id: d.id, ...d.plan, status, speaker: null };
}

/** The series overview (GET /api/series/{id}) as a list: the forums, then per topic (in
 * the forums' topic order, `view.topics`; entries without a topic last) the decisions,
 * actions (with status and history) and questions. Read-only. */
export function seriesView(view) {
  const forums = h("ol", { class: "series-forums" }, view.events.map((e) =>
    h("li", {}, `${e.title} (${t(`org_status_${e.status}`)})`)));
  const same = (title) => title.trim().toLowerCase();  // topics match by title, as carried
  const topics = new Map((view.topics || []).map((title) => [same(title), { title, items: [] }]));
  const none = { title: t("series_no_topic"), items: [] };
  const group = (title) => {
    if (!title) return none.items;
    const key = same(title);
    if (!topics.has(key)) topics.set(key, { title, items: [] });
    return topics.get(key).items;
  };
  for (const d of view.decisions) group(d.topic).push(h("li", { class: "series-item series-item--decision" },
    `${t("series_decision")}: ${d.text}`, h("span", { class: "muted" }, ` (${d.from_title})`)));
  for (const a of view.actions) {
    const history = (a.history || []).map((x) => [x.event_title, x.status ? t(`carried_${x.status}`) : "",
      x.assignee ? `→ ${x.assignee}` : "", x.due ? `→ ${x.due}` : "", x.note || "", x.by && x.by.name ? `(${x.by.name})` : ""]
      .filter(Boolean).join(" "));
    group(a.topic).push(h("li", { class: `series-item series-item--action series-item--${a.status}` },
      `${t("series_action")}: ${a.text}`,
      h("span", { class: "muted" }, ` (${[a.assignee, a.due, t(`carried_${a.status}`), a.from_title].filter(Boolean).join(", ")})`),
      history.length ? h("ul", { class: "series-history" }, history.map((x) => h("li", {}, x))) : null));
  }
  for (const q of view.questions) group(q.topic).push(h("li", { class: "series-item series-item--question" },
    `${t("series_question")}: ${q.text}`, h("span", { class: "muted" }, ` (${t(`carried_${q.status}`)}${q.answer ? `: ${q.answer}` : ""})`)));
  return h("div", { class: "series-view" },
    h("h3", {}, t("series_forums")), forums,
    [...topics.values(), none].filter((x) => x.items.length)
      .map(({ title, items }) => [h("h3", {}, title), h("ul", {}, items)]));
}

export function install({ store, socket, notify, session }) {
  // -- the model ---------------------------------------------------------------------------
  store.onReset((model, state) => {
    const a = state.agenda || { steps: [], current: null };
    model.run = { steps: a.steps.map((s) => ({ ...s })), current: a.current };
    const c = state.carried || { actions: [], questions: [] };
    model.seriesId = c.follows ? c.series_id : null;
    model.carried = [...(c.actions || []), ...(c.questions || [])].map((x) => ({ ...x }));
  });
  store.on("agenda.planned", (model, ev) => {
    model.run = { steps: ev.steps.map((d) => stepOf(d)), current: null };
  });
  store.on("agenda.added", (model, ev) => { model.run.steps.splice(ev.position, 0, stepOf(ev.step)); });
  store.on("agenda.reordered", (model, ev) => {
    const byId = new Map(model.run.steps.map((s) => [s.id, s]));
    const order = ev.order.filter((id) => byId.has(id)).map((id) => byId.get(id));
    model.run.steps = [...order, ...model.run.steps.filter((s) => !ev.order.includes(s.id))];
  });
  store.on("agenda.skipped", (model, ev) => {
    const s = model.run.steps.find((x) => x.id === ev.step);
    if (s) s.status = "skipped";
  });
  store.on("agenda.advanced", (model, ev) => {
    const from = model.run.steps.find((x) => x.id === ev.from);
    const to = model.run.steps.find((x) => x.id === ev.to);
    if (from && from !== to) { from.status = "done"; from.ended_at = ev.at; }
    if (to) {
      if (from !== to) { to.status = "running"; to.started_at = ev.at; }
      if (ev.speaker !== undefined && ev.speaker !== null) to.speaker = ev.speaker;
    }
    model.run.current = to ? to.id : null;
  });
  store.on("carried.added", (model, ev) => {
    model.seriesId = ev.series_id;
    model.carried = [...(ev.actions || []), ...(ev.questions || [])].map((x) => ({ ...x }));
  });
  store.on("carried.updated", (model, ev) => {
    const i = model.carried.findIndex((x) => x.id === ev.item.id);
    if (i >= 0) model.carried[i] = { ...ev.item };
  });

  // -- the DOM -----------------------------------------------------------------------------
  const anchor = $("#agenda");
  if (!anchor) return;
  const now = h("p", { id: "run-now", class: "lead", attrs: { role: "status" } });
  const list = h("ol", { id: "run-steps", class: "agenda__list run-steps" });
  const nextBtn = h("button", { id: "run-next", type: "button", class: "btn btn--primary" }, t("run_next"));
  const error = h("p", { id: "run-error", class: "form-error", attrs: { role: "alert" }, hidden: true });
  const kind = h("select", { id: "run-add-kind" }, KINDS.map((k) => h("option", { value: k }, t(`org_step_${k}`))));
  const title = h("input", { id: "run-add-title", maxLength: 200 });
  const minutes = h("input", { id: "run-add-minutes", type: "number", min: 1, max: 1440 });
  const question = h("input", { id: "run-add-question", maxLength: 200 });
  const options = h("input", { id: "run-add-options" });
  const field = (label, input) => h("div", { class: "field" }, h("label", { htmlFor: input.id }, label), input);
  const addForm = h("form", { id: "run-add", class: "run-add" },
    field(t("org_step_kind"), kind), field(t("org_step_title"), title),
    field(t("org_step_minutes"), minutes), field(t("org_step_question"), question),
    field(t("org_step_options"), options),
    h("button", { type: "submit", class: "btn btn--small" }, t("org_step_add")));
  const controls = h("div", { id: "run-controls", hidden: true }, nextBtn, error,
    h("details", { class: "run-add-details" }, h("summary", {}, t("run_add")), addForm));
  const section = h("section", { id: "run", class: "card agenda run", attrs: { "aria-labelledby": "run-title" }, hidden: true },
    h("h2", { id: "run-title" }, t("run_title")), now, controls, list);
  const carriedList = h("ul", { id: "carried-list", class: "carried-list" });
  const seriesPage = h("a", { id: "series-page", class: "btn btn--small", href: "#", target: "_blank", rel: "noopener" }, t("series_page"));
  // plain download links: the cookie this page's session set for its series goes with
  // them (`POST /api/events/{id}/session`), no token in them
  const seriesDownloads = ["pdf", "md"].map((fmt) => h("a", { class: "btn btn--small btn--quiet", href: "#",
    download: "", attrs: { "data-format": fmt } }, t(`org_export_${fmt}`)));
  const seriesLinks = h("p", { class: "carried-series" }, t("carried_series"), " ", seriesPage, " ",
    seriesDownloads.map((a) => [a, " "]));
  const seriesBox = h("div", { id: "series-view" });
  const seriesDetails = h("details", { class: "carried-series-view" }, h("summary", {}, t("series_show")), seriesBox);
  seriesDetails.addEventListener("toggle", async () => {
    if (!seriesDetails.open) return;
    const sid = model().seriesId;
    const s = session();
    if (!sid || !s) return;
    try {
      const response = await fetch(`/api/series/${encodeURIComponent(sid)}`, { headers: { Authorization: `Bearer ${s.token}` } });
      if (!response.ok) throw new Error(String(response.status));
      clear(seriesBox).append(seriesView(await response.json()));
    } catch {
      setText(seriesBox, t("err_generic"));
    }
  });
  const carried = h("section", { id: "carried", class: "card carried", attrs: { "aria-labelledby": "carried-title" }, hidden: true },
    h("h2", { id: "carried-title" }, t("carried_title")), carriedList, seriesLinks, seriesDetails);

  anchor.after(section, carried);

  const model = () => store.model;
  const topicTitle = (id) => ((model().event && model().event.topics) || []).find((x) => x.id === id)?.title;
  // a title made by the server from kind and topic (auto_title) is German: say it in mine
  const stepTitle = (s) => (s.title && !s.auto_title ? s.title : null) || (topicTitle(s.topic) ? `${t(`org_step_${s.kind}`)}: ${topicTitle(s.topic)}` : t(`org_step_${s.kind}`));

  function showError(key) {
    setText(error, key ? t(key) : "");
    show(error, Boolean(key));
  }

  async function send(type, body = {}) {
    try {
      await socket().request(type, body);
      showError(null);
      return true;
    } catch (err) {
      showError(err.code === "conflict" || err.code === "invalid" ? "run_err_conflict" : errorKey(err));
      return false;
    }
  }

  function render() {
    if (!store.ready) return;
    const run = model().run;
    const moderator = isModerator(model());
    show(section, run.steps.length > 0 || moderator);
    show(controls, moderator);
    const current = run.steps.find((s) => s.id === run.current);
    const next = run.steps.find((s) => s.status === "planned");
    const parts = [];
    if (current) {
      let text = t("run_now", { title: stepTitle(current) });
      if (current.speaker !== null && current.speaker !== undefined && current.speakers) {
        text += ` (${current.speakers[current.speaker]})`;
      }
      parts.push(text);
    }
    const started = run.steps.some((s) => s.status !== "planned");
    parts.push(next ? t("run_upcoming", { title: stepTitle(next) }) : t(started ? "run_last" : "run_none"));
    setText(now, parts.join(" · "));
    nextBtn.disabled = !current && !next;
    clear(list);
    const planned = run.steps.filter((s) => s.status === "planned");
    for (const s of run.steps) {
      const label = stepTitle(s);
      const li = h("li", { class: `run-step run-step--${s.status}`, data: { step: s.id },
        attrs: { "aria-current": s.status === "running" ? "step" : null } },
      h("span", { class: "run-step__title" }, label),
      " ",
      h("span", { class: "badge badge--small run-step__status" }, t(`step_${s.status}`)));
      if (moderator) {
        (s.polls || []).forEach((p, i) => li.append(" ", h("button", { type: "button", class: "btn btn--small btn--quiet run-step__poll",
          on: { click: () => send("agenda.poll", { step: s.id, poll: i }) } }, t("run_launch_poll", { question: p.question }))));
      }
      if (moderator && s.status === "planned") {
        const i = planned.indexOf(s);
        li.append(" ",
          h("button", { type: "button", class: "btn btn--small btn--quiet", attrs: { "aria-label": t("run_skip_label", { title: label }) },
            on: { click: () => send("agenda.skip", { step: s.id }) } }, t("run_skip")),
          i > 0 ? h("button", { type: "button", class: "btn btn--small btn--quiet", attrs: { "aria-label": t("run_up_label", { title: label }) },
            on: { click: () => send("agenda.move", { step: s.id, position: run.steps.indexOf(planned[i - 1]) }) } }, t("run_up")) : null);
      }
      list.append(li);
    }
    renderCarried(moderator);
  }

  function renderCarried(moderator) {
    const items = model().carried || [];
    show(carried, items.length > 0 || Boolean(model().seriesId));
    const sid = model().seriesId;
    if (sid) {
      seriesPage.href = `/series/${encodeURIComponent(sid)}?lang=${encodeURIComponent(pageLang())}`;
      for (const a of seriesDownloads) {
        a.href = `/api/series/${encodeURIComponent(sid)}/overview.${a.dataset.format}?lang=${encodeURIComponent(pageLang())}`;
      }
    }
    show(seriesPage, Boolean(sid));
    clear(carriedList);
    const meId = model().me && model().me.id;
    for (const item of items) {
      // the assignee is the participant a moderator confirmed, never whoever has the name
      const mine = item.kind === "action" && Boolean(meId) && item.assignee_id === meId;
      const meta = [];
      if (item.assignee) meta.push(t("carried_who", { name: item.assignee }));
      if (item.kind === "action" && item.assignee) meta.push(t(item.assignee_id ? "carried_confirmed" : "carried_unconfirmed"));
      if (item.due) meta.push(t("carried_due", { date: item.due }));
      if (topicTitle(item.topic) || item.topic_title) meta.push(topicTitle(item.topic) || item.topic_title);
      meta.push(t(`carried_${item.status}`));
      const li = h("li", { class: `carried-item carried-item--${item.status}`, data: { item: item.id } },
        h("span", { class: "carried-item__text" }, item.text), " ",
        h("span", { class: "muted carried-item__meta" }, `(${meta.join(", ")})`),
        item.answer ? h("p", { class: "carried-item__answer" }, t("carried_answer", { answer: item.answer })) : null);
      if (item.kind === "action" && (moderator || mine)) {
        li.append(" ", h("button", { type: "button", class: "btn btn--small",
          attrs: { "aria-label": t(item.status === "done" ? "carried_reopen_label" : "carried_done_label", { text: item.text }) },
          on: { click: () => send("carried.update", { item: item.id, status: item.status === "done" ? "open" : "done" }) } },
        t(item.status === "done" ? "carried_reopen" : "carried_mark_done")));
        if (moderator) li.append(editAction(item));
      }
      if (item.kind === "question" && moderator) li.append(answerForm(item));
      carriedList.append(li);
    }
  }

  let counter = 0;
  /** The admitted people of this forum to choose the assignee from (the one confirmed
   * stays listed after leaving). */
  function fillPeople(select, item) {
    const people = [...(model().participants || new Map()).values()]
      .filter((p) => !p.standing || p.standing === "admitted")
      .sort((a, b) => a.name.localeCompare(b.name));
    if (item.assignee_id && !people.some((p) => p.id === item.assignee_id)) {
      people.unshift({ id: item.assignee_id, name: item.assignee || item.assignee_id });
    }
    const chosen = select.value || item.assignee_id || "";
    clear(select).append(h("option", { value: "" }, t("carried_confirm_none")),
      ...people.map((p) => h("option", { value: p.id }, p.organization ? `${p.name} (${p.organization})` : p.name)));
    select.value = chosen;
  }

  function editAction(item) {
    counter += 1;
    const person = h("select", { id: `carried-${counter}-person` });
    fillPeople(person, item);
    const who = h("input", { id: `carried-${counter}-who`, value: item.assignee || "", maxLength: 120 });
    const due = h("input", { id: `carried-${counter}-due`, type: "date", value: item.due || "" });
    const form = h("form", { class: "carried-edit form-row" },
      field(t("carried_confirm"), person),
      field(t("carried_assignee"), who), field(t("carried_new_due"), due),
      h("button", { type: "submit", class: "btn btn--small" }, t("carried_save")));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const body = { item: item.id };
      if (person.value !== (item.assignee_id || "")) body.assignee_id = person.value;
      if (who.value.trim() !== (item.assignee || "")) body.assignee = who.value.trim();
      if (due.value && due.value !== item.due) body.due = due.value;
      if (Object.keys(body).length > 1) send("carried.update", body);
    });
    const details = h("details", { class: "carried-item__edit" }, h("summary", {}, t("carried_edit")), form);
    details.addEventListener("toggle", () => { if (details.open) fillPeople(person, item); });
    return details;
  }

  function answerForm(item) {
    counter += 1;
    const answer = h("input", { id: `carried-${counter}-answer`, value: item.answer || "", maxLength: 2000 });
    const form = h("form", { class: "carried-answer form-row" },
      field(t("carried_answer_label"), answer),
      h("button", { type: "submit", class: "btn btn--small" }, t("carried_save")));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      send("carried.answer", { item: item.id, answer: answer.value.trim() });
    });
    return form;
  }

  nextBtn.addEventListener("click", async () => {
    nextBtn.disabled = true;
    await send("agenda.next");
    render();
  });

  addForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const step = { kind: kind.value };
    if (title.value.trim()) step.title = title.value.trim();
    const n = Number(minutes.value);
    if (n > 0) {
      if (kind.value === "impulse" || kind.value === "report") step.floor_s = Math.max(10, n * 60);
      else step.duration_s = n * 60;
    }
    if (kind.value === "breakout") step.assign = "auto";
    if (question.value.trim()) {
      const opts = options.value.split(",").map((s) => s.trim()).filter(Boolean);
      step.polls = [opts.length >= 2 ? { question: question.value.trim(), kind: "single", options: opts }
        : { question: question.value.trim(), kind: "text" }];
    }
    if (await send("agenda.add", { step })) {
      addForm.reset();
      notify(t("run_added", { title: stepTitle(step) }));
      kind.focus();
    }
  });

  for (const topic of ["reset", "agenda.planned", "agenda.added", "agenda.reordered", "agenda.skipped",
    "agenda.advanced", "carried.added", "carried.updated", "participant.role"]) {
    store.subscribe(topic, render);
  }
}
