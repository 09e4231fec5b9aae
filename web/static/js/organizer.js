// The organizer's desk: token, create a forum (or the next of a series), copyable links,
// and every forum with its status and what can be done with it (issue 17).

import { $, clear, h, longDate, setText, show } from "./dom.js";
import { loadCatalog, pageLang, t } from "./i18n.js";
import { seriesView } from "./agenda_run.js";

const TOKEN_KEY = "forum-live:organizer-token";

const ui = {
  tokenForm: $("#token-form"),
  token: $("#org-token"),
  tokenStatus: $("#token-status"),
  form: $("#create-form"),
  title: $("#ev-title"),
  description: $("#ev-description"),
  starts: $("#ev-starts"),
  rows: $("#topic-rows"),
  addTopic: $("#topic-add"),
  error: $("#create-error"),
  status: $("#create-status"),
  created: $("#created"),
  createdName: $("#created-name"),
  createdLinks: $("#created-links"),
  eventsLoad: $("#events-load"),
  eventsStatus: $("#events-status"),
  events: $("#events-list"),
  copyStatus: $("#copy-status"),
  submit: $("#create-form [type=submit]"),
  follows: $("#create-follows"),
  followsText: $("#create-follows-text"),
  followsCancel: $("#create-follows-cancel"),
};

let following = null;  // the forum the next one follows (its series), or null

class ApiError extends Error {}

function token() {
  return ui.token.value.trim();
}

async function api(method, path, body) {
  if (!token()) throw new ApiError("org_err_token_missing");
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: { Authorization: `Bearer ${token()}`, ...(body ? { "Content-Type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
  } catch {
    throw new ApiError("org_err_network");
  }
  if (response.status === 401) throw new ApiError("org_err_token");
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const err = new ApiError("org_err_invalid");
    err.detail = (data.error && data.error.message) || String(response.status);
    throw err;
  }
  return data;
}

const describe = (err) => (err instanceof ApiError ? t(err.message, { message: err.detail || "" }) : t("org_err_network"));

// -- token ---------------------------------------------------------------------------------
ui.tokenForm.addEventListener("submit", (ev) => {
  ev.preventDefault();
  try { sessionStorage.setItem(TOKEN_KEY, token()); } catch { /* not kept */ }
  setText(ui.tokenStatus, token() ? t("org_token_saved") : "");
  if (token()) loadEvents();
});

// -- topics --------------------------------------------------------------------------------
let rowCounter = 0;

function addTopicRow(focus = false) {
  rowCounter += 1;
  const id = `topic-${rowCounter}`;
  const titleLabel = h("label", { htmlFor: `${id}-title`, class: "topic-row__label" });
  const speakerLabel = h("label", { htmlFor: `${id}-speaker`, class: "topic-row__label" });
  const titleInput = h("input", { id: `${id}-title`, class: "topic-row__title", maxLength: 200 });
  const speakerInput = h("input", { id: `${id}-speaker`, class: "topic-row__speaker", maxLength: 200 });
  const remove = h("button", { type: "button", class: "btn btn--small btn--quiet topic-row__remove" }, "");
  const li = h("li", { class: "topic-row" },
    h("div", { class: "field" }, titleLabel, titleInput),
    h("div", { class: "field" }, speakerLabel, speakerInput),
    remove);
  remove.addEventListener("click", () => {
    const next = li.nextElementSibling || li.previousElementSibling;
    li.remove();
    renumber();
    if (next) next.querySelector("input").focus();
    else ui.addTopic.focus();
  });
  ui.rows.append(li);
  renumber();
  if (focus) titleInput.focus();
}

function renumber() {
  [...ui.rows.children].forEach((li, i) => {
    const n = i + 1;
    const [titleLabel, speakerLabel] = li.querySelectorAll("label");
    titleLabel.textContent = t("org_topic_title", { n });
    speakerLabel.textContent = t("org_topic_speaker", { n });
    const remove = li.querySelector(".topic-row__remove");
    remove.textContent = t("org_topic_remove", { n });
  });
}

ui.addTopic.addEventListener("click", () => addTopicRow(true));

// -- create --------------------------------------------------------------------------------
function formError(text) {
  setText(ui.error, text || "");
  show(ui.error, Boolean(text));
}

function startsAt() {
  if (!ui.starts.value) return null;
  const d = new Date(ui.starts.value);  // local time as typed
  return Number.isNaN(d.getTime()) ? ui.starts.value : d.toISOString();
}

ui.form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  formError("");
  const title = ui.title.value.trim();
  if (!title) {
    formError(t("org_err_title_missing"));
    ui.title.setAttribute("aria-invalid", "true");
    ui.title.focus();
    return;
  }
  ui.title.removeAttribute("aria-invalid");
  const topics = [...ui.rows.children].map((li) => ({
    title: li.querySelector(".topic-row__title").value.trim(),
    speaker: li.querySelector(".topic-row__speaker").value.trim() || null,
  })).filter((topic) => topic.title);
  const body = { title };
  if (topics.length || !following) body.topics = topics;  // the next forum: copied if none
  const description = ui.description.value.trim();
  if (description) body.description = description;
  const starts = startsAt();
  if (starts) body.starts_at = starts;
  if (following) body.follows = following.id;
  if (ui.submit.disabled) return;  // a second click while the first is on its way
  ui.submit.disabled = true;
  setText(ui.status, t("org_creating"));
  try {
    const event = await api("POST", "/api/events", body);
    setText(ui.status, "");
    showCreated(event);
    resetForm();
    loadEvents();
  } catch (err) {
    setText(ui.status, "");
    formError(describe(err));
  } finally {
    ui.submit.disabled = false;
  }
});

function resetForm() {
  ui.form.reset();
  clear(ui.rows);
  addTopicRow();
  follow(null);
}

/** Prepare the form for the next forum of `event`'s series (topics carried over). */
function follow(event) {
  following = event;
  show(ui.follows, Boolean(event));
  setText(ui.followsText, event ? t("org_follows", { title: event.title }) : "");
  if (event) {
    ui.title.value = event.title;
    ui.title.focus();
    ui.title.select();
  }
}

ui.followsCancel.addEventListener("click", () => follow(null));

function linkRow(label, url, idBase) {
  const inputId = `${idBase}-url`;
  const input = h("input", { id: inputId, class: "link-row__url", readOnly: true, value: url, type: "text" });
  return h("div", { class: "link-row" },
    h("label", { htmlFor: inputId }, label),
    h("div", { class: "link-row__controls" },
      input,
      h("button", {
        type: "button", class: "btn btn--small link-row__copy",
        attrs: { "aria-label": t("org_copy_label", { label }) },
        on: { click: () => copy(url, input) },
      }, t("org_copy")),
      h("a", { class: "btn btn--small btn--quiet", href: url, target: "_blank", rel: "noopener" }, t("org_open"))));
}

let linkCounter = 0;
function links(event) {
  linkCounter += 1;
  return [
    linkRow(t("org_link_participant"), event.participant_url, `l${linkCounter}-p`),
    linkRow(t("org_link_moderator"), event.moderator_url, `l${linkCounter}-m`),
  ];
}

function showCreated(event) {
  clear(ui.createdLinks);
  setText(ui.createdName, event.title || ui.title.value.trim());
  ui.createdLinks.append(...links(event));
  const carried = event.carried || {};
  if (carried.actions || carried.questions) {
    ui.createdLinks.append(h("p", { class: "created-carried" },
      t("org_carried", { actions: carried.actions || 0, questions: carried.questions || 0 })));
  }
  show(ui.created, true);
  ui.created.focus();
}

async function copy(text, input) {
  let ok = false;
  try {
    await navigator.clipboard.writeText(text);
    ok = true;
  } catch {
    input.focus();
    input.select();
    try { ok = document.execCommand("copy"); } catch { ok = false; }
  }
  setText(ui.copyStatus, "");
  setText(ui.copyStatus, ok ? t("org_copied") : t("org_copy_failed"));
  announceVisible(input, ok ? t("org_copied") : t("org_copy_failed"));
}

function announceVisible(input, text) {
  const row = input.closest(".link-row");
  let note = row.querySelector(".link-row__note");
  if (!note) {
    note = h("p", { class: "link-row__note" });
    row.append(note);
  }
  note.textContent = text;
}

// -- the desk ------------------------------------------------------------------------------
/** `?lang=en` on an English page: the downloads come in the language of the desk. */
const langQuery = () => (pageLang() === "de" ? "" : `?lang=${encodeURIComponent(pageLang())}`);

const EXPORTS = [["pdf", "minutes.pdf"], ["docx", "minutes.docx"], ["html", "minutes.html"],
  ["md", "minutes.md"], ["json", "minutes.json"], ["polls_csv", "polls.csv"],
  ["attendance_csv", "attendance.csv"]];

function statusText(event) {
  const parts = [];
  if (event.status === "live") parts.push(t("org_status_live", { n: event.online }));
  else parts.push(t(`org_status_${event.status}`));
  const m = event.minutes || {};
  parts.push(m.status === "approved" ? t("org_minutes_approved", { n: m.version }) : t("org_minutes_draft"));
  return parts.join(" · ");
}

async function act(button, method, path, body, done) {
  const item = button.closest(".event-item");
  const status = item.querySelector(".event-item__status-line");
  button.disabled = true;
  try {
    const out = await api(method, path, body);
    if (done) done(out);
    await loadEvents();
  } catch (err) {
    setText(status, describe(err));
  } finally {
    button.disabled = false;
  }
}

function confirmed(key, event) {
  return window.confirm(t(key, { title: event.title }));
}

function button(label, onClick, extra = "") {
  return h("button", { type: "button", class: `btn btn--small ${extra}`.trim(), on: { click: onClick } }, label);
}

function seriesExports(event) {
  const sid = encodeURIComponent(event.series_id);
  const box = h("div", { class: "event-item__series-view" });
  const details = h("details", { class: "event-item__details" }, h("summary", {}, t("series_show")), box);
  details.addEventListener("toggle", async () => {
    if (!details.open) return;
    try { clear(box).append(seriesView(await api("GET", `/api/series/${sid}`))); }
    catch (err) { setText(box, describe(err)); }
  });
  const page = h("a", { class: "btn btn--small event-item__series-page", href: `/series/${sid}`, target: "_blank", rel: "noopener" }, t("series_page"));
  return h("div", {}, h("p", {}, page), seriesExportLinks(sid), details);
}

/** Plain download links: the cookie each forum's `POST …/session` set for its series
 * (`/api/series/{id}`, before the desk is drawn) goes with them, no token in them. */
function seriesExportLinks(sid) {
  const lang = encodeURIComponent(pageLang());
  return h("p", { class: "event-item__series" }, t("org_series_overview"), " ",
    ["pdf", "docx", "md", "json"].map((fmt) => [h("a", {
      href: `/api/series/${sid}/overview.${fmt}?lang=${lang}`, download: "", class: "event-item__export",
    }, t(`org_export_${fmt}`)), " "]));
}

let seriesOf = new Map();  // series id -> number of forums in it

function desk(event) {
  const id = encodeURIComponent(event.id);
  const base = `/api/events/${id}`;
  const title = event.title;
  const actions = h("div", { class: "form-row event-item__actions" },
    h("a", { class: "btn btn--small", href: event.moderator_url, target: "_blank", rel: "noopener" }, t("org_open_moderator")),
    h("a", { class: "btn btn--small", href: `/events/${id}/review`, target: "_blank", rel: "noopener" }, t("org_review")),
    button(t("org_approve"), (ev) => act(ev.currentTarget, "POST", `${base}/minutes/approve`, {})),
    event.status !== "ended"
      ? button(t("org_end"), (ev) => { if (confirmed("org_confirm_end", event)) act(ev.currentTarget, "POST", `${base}/end`); }) : null,
    button(t("org_next"), () => follow(event)),
    button(t("org_new_links"), (ev) => { if (confirmed("org_confirm_links", event)) act(ev.currentTarget, "POST", `${base}/revoke`); }),
    button(t("org_delete"), (ev) => { if (confirmed("org_confirm_delete", event)) act(ev.currentTarget, "DELETE", base); }, "btn--danger"));
  const exports = h("p", { class: "event-item__exports" }, t("org_exports"), " ",
    EXPORTS.map(([key, file]) => [h("a", { href: `${base}/${file}${langQuery()}`, download: "", class: "event-item__export" }, t(`org_export_${key}`)), " "]));
  return h("li", { class: "event-item", data: { id: event.id } },
    h("h3", { class: "event-item__title" }, title),
    h("p", { class: "event-item__status" }, statusText(event)),
    event.starts_at ? h("p", { class: "muted" }, t("org_starts", { date: longDate(event.starts_at, pageLang()) })) : null,
    event.created_at ? h("p", { class: "muted" }, t("org_events_created", { date: longDate(event.created_at, pageLang()) })) : null,
    event.follows ? h("p", { class: "muted" }, t("org_in_series")) : null,
    ...links(event),
    actions,
    exports,
    (seriesOf.get(event.series_id) || 0) > 1 ? seriesExports(event) : null,
    event.editable ? editor(event) : null,
    agendaEditor(event),
    h("p", { class: "event-item__status-line status-line", attrs: { role: "status" } }));
}

function field(label, input) {
  return h("div", { class: "field" }, h("label", { htmlFor: input.id }, label), input);
}

let editCounter = 0;
function editor(event) {
  editCounter += 1;
  const n = editCounter;
  const title = h("input", { id: `edit-${n}-title`, value: event.title, maxLength: 200 });
  const starts = h("input", { id: `edit-${n}-starts`, type: "datetime-local", value: localInput(event.starts_at) });
  const topics = h("textarea", { id: `edit-${n}-topics`, rows: 4, value: event.topics.map((x) => x.title).join("\n") });
  const save = h("button", { type: "submit", class: "btn btn--small" }, t("org_edit_save"));
  const form = h("form", { class: "event-item__edit" },
    field(t("org_field_title"), title), field(t("org_field_starts_at"), starts),
    field(t("org_edit_topics"), topics), save);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const lines = topics.value.split("\n").map((s) => s.trim()).filter(Boolean);
    const body = {
      title: title.value.trim(),
      starts_at: starts.value ? new Date(starts.value).toISOString() : null,
      topics: lines.map((line, i) => ({ title: line, ...(event.topics[i] ? { id: event.topics[i].id, speaker: event.topics[i].speaker } : {}) })),
    };
    act(save, "PATCH", `/api/events/${encodeURIComponent(event.id)}`, body);
  });
  return h("details", { class: "event-item__details" }, h("summary", {}, t("org_edit")), form);
}

function localInput(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const pad = (x) => String(x).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

// The run of show: one row per step, saved as a whole (PUT /api/events/{id}/agenda).
const KINDS = ["welcome", "impulse", "breakout", "report", "poll", "break"];

function stepRow(event, list, step = { kind: "welcome" }) {
  editCounter += 1;
  const n = editCounter;
  const kind = h("select", { id: `step-${n}-kind`, class: "step__kind" },
    KINDS.map((k) => h("option", { value: k, selected: k === step.kind }, t(`org_step_${k}`))));
  const title = h("input", { id: `step-${n}-title`, class: "step__title", value: step.title || "", maxLength: 200 });
  const topic = h("select", { id: `step-${n}-topic`, class: "step__topic" },
    h("option", { value: "" }, t("org_step_no_topic")),
    event.topics.map((x) => h("option", { value: x.id, selected: x.id === step.topic }, x.title)));
  const minutes = h("input", { id: `step-${n}-minutes`, class: "step__minutes", type: "number", min: 1, max: 1440,
    value: step.duration_s ? Math.round(step.duration_s / 60) : "" });
  const speakers = h("input", { id: `step-${n}-speakers`, class: "step__speakers",
    value: step.speaker || (step.speakers || []).join(", ") });
  const poll = (step.polls || [])[0] || {};
  const question = h("input", { id: `step-${n}-question`, class: "step__question", value: poll.question || "", maxLength: 200 });
  const options = h("input", { id: `step-${n}-options`, class: "step__options", value: (poll.options || []).join(", ") });
  const remove = button(t("org_step_remove"), () => { li.remove(); });
  const li = h("li", { class: "topic-row step" },
    field(t("org_step_kind"), kind), field(t("org_step_title"), title), field(t("org_step_topic"), topic),
    field(t("org_step_minutes"), minutes), field(t("org_step_speakers"), speakers),
    field(t("org_step_question"), question), field(t("org_step_options"), options), remove);
  list.append(li);
  return li;
}

function stepBody(li) {
  const v = (cls) => li.querySelector(cls).value.trim();
  const kind = v(".step__kind");
  const body = { kind };
  if (v(".step__title")) body.title = v(".step__title");
  if (v(".step__topic")) body.topic = v(".step__topic");
  const minutes = Number(v(".step__minutes"));
  if (minutes > 0) {
    if (kind === "impulse" || kind === "report") body.floor_s = Math.max(10, minutes * 60);
    else body.duration_s = minutes * 60;
  }
  const names = v(".step__speakers").split(",").map((s) => s.trim()).filter(Boolean);
  if (kind === "impulse" && names.length) body.speaker = names[0];
  if (kind === "report") body.speakers = names;
  if (kind === "breakout") body.assign = "auto";
  if (v(".step__question") && (kind === "poll" || kind === "breakout")) {
    const options = v(".step__options").split(",").map((s) => s.trim()).filter(Boolean);
    body.polls = [options.length >= 2
      ? { question: v(".step__question"), kind: "single", options }
      : { question: v(".step__question"), kind: "text" }];
  }
  return body;
}

function agendaEditor(event) {
  const list = h("ol", { class: "topic-rows steps" });
  const add = button(t("org_step_add"), () => stepRow(event, list).querySelector("select").focus());
  const save = h("button", { type: "submit", class: "btn btn--small btn--primary" }, t("org_agenda_save"));
  const form = h("form", { class: "event-item__agenda" }, list, h("div", { class: "form-row" }, add, save));
  const details = h("details", { class: "event-item__details" },
    h("summary", {}, t("org_agenda", { n: event.agenda_steps })), form);
  let loaded = false;
  details.addEventListener("toggle", async () => {
    if (!details.open || loaded) return;
    loaded = true;
    try {
      const agenda = await api("GET", `/api/events/${encodeURIComponent(event.id)}/agenda`);
      for (const step of agenda.steps) stepRow(event, list, step);
    } catch (err) {
      setText(details.closest(".event-item").querySelector(".event-item__status-line"), describe(err));
    }
  });
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const steps = [...list.children].map(stepBody);
    act(save, "PUT", `/api/events/${encodeURIComponent(event.id)}/agenda`, { steps });
  });
  return details;
}

async function openSessions(events) {
  // A cookie per forum for its review page and downloads, and for its series' page and
  // overview downloads (/series/{id}, /api/series/{id}): their links carry no token. The
  // desk is drawn only once these are answered, so its links find their cookie.
  await Promise.all(events.map((event) => fetch(`/api/events/${encodeURIComponent(event.id)}/session`, {
    method: "POST", headers: { Authorization: `Bearer ${token()}` },
  }).catch(() => null)));
}

let loading = null;
async function loadEvents() {
  if (!token()) {
    setText(ui.eventsStatus, t("org_err_token_missing"));
    return;
  }
  if (loading) return loading;
  setText(ui.eventsStatus, t("org_events_loading"));
  loading = (async () => {
    try {
      const events = await api("GET", "/api/desk");
      seriesOf = new Map();
      for (const e of events) seriesOf.set(e.series_id, (seriesOf.get(e.series_id) || 0) + 1);
      await openSessions(events);
      const open = new Set([...ui.events.querySelectorAll("details[open]")].map(
        (d) => `${d.closest(".event-item").dataset.id}:${d.querySelector("summary").textContent}`));
      clear(ui.events);
      for (const event of events) {
        const li = desk(event);
        for (const d of li.querySelectorAll("details")) {
          if (open.has(`${event.id}:${d.querySelector("summary").textContent}`)) d.open = true;
        }
        ui.events.append(li);
      }
      setText(ui.eventsStatus, events.length ? "" : t("org_events_empty"));
    } catch (err) {
      setText(ui.eventsStatus, describe(err));
    } finally {
      loading = null;
    }
  })();
  return loading;
}

ui.eventsLoad.addEventListener("click", loadEvents);

// -- start ---------------------------------------------------------------------------------
async function main() {
  await loadCatalog();
  addTopicRow();
  let saved = "";
  try { saved = sessionStorage.getItem(TOKEN_KEY) || ""; } catch { /* none */ }
  if (saved) {
    ui.token.value = saved;
    loadEvents();
  }
}

main();
