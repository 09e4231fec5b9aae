// The organizer page: token, create a forum, copyable links, list of forums.

import { $, clear, h, longDate, setText, show } from "./dom.js";
import { loadCatalog, pageLang, t } from "./i18n.js";

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
};

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
  const body = { title, topics };
  const description = ui.description.value.trim();
  if (description) body.description = description;
  const starts = startsAt();
  if (starts) body.starts_at = starts;
  setText(ui.status, t("org_creating"));
  try {
    const event = await api("POST", "/api/events", body);
    setText(ui.status, "");
    showCreated(event);
    loadEvents();
  } catch (err) {
    setText(ui.status, "");
    formError(describe(err));
  }
});

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

// -- list ----------------------------------------------------------------------------------
async function loadEvents() {
  if (!token()) {
    setText(ui.eventsStatus, t("org_err_token_missing"));
    return;
  }
  setText(ui.eventsStatus, t("org_events_loading"));
  try {
    const events = await api("GET", "/api/events");
    clear(ui.events);
    for (const event of events) {
      ui.events.append(h("li", { class: "event-item" },
        h("h3", { class: "event-item__title" }, event.title),
        event.created_at ? h("p", { class: "muted" }, t("org_events_created", { date: longDate(event.created_at, pageLang()) })) : null,
        ...links(event)));
    }
    setText(ui.eventsStatus, events.length ? "" : t("org_events_empty"));
  } catch (err) {
    setText(ui.eventsStatus, describe(err));
  }
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
