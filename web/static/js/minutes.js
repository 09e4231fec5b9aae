// The minutes of my room: grouped by kind (decisions and actions first), add, edit and
// delete in place, live updates from others, and conflicts shown as both versions to pick
// from or merge. Moderators: "to the minutes" on every chat line, and ending the event
// (with a warning when edits here are unsaved). A link to the read-only review page.

import { $, clear, h, hhmm, show, setText } from "./dom.js";
import { pageLang, t } from "./i18n.js";
import { isModerator } from "./state.js";
import { lineExtras } from "./chat.js";

const KINDS = ["decision", "action", "question", "note"];
const GROUP_TITLE = { decision: "minutes.decisions", action: "minutes.actions", question: "minutes.questions", note: "minutes.notes" };
const TEXT_MAX = 2000;

function longDay(iso) {
  if (!iso) return "";
  const d = new Date(`${iso}T12:00:00`);
  if (Number.isNaN(d.getTime())) return iso;
  try { return new Intl.DateTimeFormat(pageLang(), { dateStyle: "medium" }).format(d); } catch { return iso; }
}

let uid = 0;

export function install({ store, socket, notify, session, eventId }) {
  // -- model -------------------------------------------------------------------------
  store.onReset((model, state) => {
    model.minutes = new Map((state.minutes || []).map((e) => [e.id, { ...e }]));
    model.minutesAccess = { ...(state.minutes_access || { writers: "everyone", takers: [], may_write: true }) };
  });
  store.on("minutes.added", (model, ev) => { model.minutes.set(ev.entry.id, { ...ev.entry }); });
  store.on("minutes.edited", (model, ev) => { model.minutes.set(ev.entry.id, { ...ev.entry }); });
  store.on("minutes.deleted", (model, ev) => { model.minutes.delete(ev.entry); });
  store.on("minutes.restricted", (model, ev) => {
    const me = model.me;
    model.minutesAccess = {
      writers: ev.writers, takers: ev.takers,
      may_write: me.role === "moderator" || ev.writers === "everyone" || (ev.takers || []).includes(me.id),
    };
  });

  const model = () => store.model;
  const moderator = () => isModerator(model());
  const mayEdit = (entry) => !entry.source?.auto && (moderator() || (entry.author && entry.author.id === model().me.id));
  const ended = () => store.ready && model().event.status === "ended";

  // -- elements ----------------------------------------------------------------------
  const section = $("#minutes");
  const groups = $("#minutes-groups");
  const where = $("#minutes-where");
  const status = $("#minutes-status");
  const addBox = $("#minutes-add");
  const endBox = $("#minutes-end");
  const review = $("#minutes-review");
  const endedNotice = $("#event-ended");

  const nodes = new Map();  // entry id -> {li, version, editor?}
  const editors = new Map();  // entry id -> editor state

  // -- fields shared by the add form and the editor -----------------------------------
  function fieldSet(prefix, values) {
    const ids = { kind: `${prefix}-kind`, text: `${prefix}-text`, assignee: `${prefix}-assignee`, due: `${prefix}-due` };
    const kind = h("select", { id: ids.kind }, KINDS.map((k) => h("option", { value: k, selected: values.kind === k }, t(`minutes.kind_${k}`))));
    const text = h("textarea", { id: ids.text, rows: 3, maxLength: TEXT_MAX, value: values.text || "" });
    const assignee = h("input", { id: ids.assignee, type: "text", maxLength: 120, value: values.assignee || "", autocomplete: "off" });
    const due = h("input", { id: ids.due, type: "date", value: values.due || "" });
    const actionRow = h("div", { class: "form-row minutes__action-fields" },
      h("div", { class: "field field--grow" }, h("label", { htmlFor: ids.assignee }, t("minutes.assignee")), assignee),
      h("div", { class: "field" }, h("label", { htmlFor: ids.due }, t("minutes.due")), due));
    const sync = () => show(actionRow, kind.value === "action");
    kind.addEventListener("change", sync);
    sync();
    return {
      kind, text, assignee, due,
      nodes: [
        h("div", { class: "field" }, h("label", { htmlFor: ids.kind }, t("minutes.kind")), kind),
        h("div", { class: "field" }, h("label", { htmlFor: ids.text }, t("minutes.text")), text),
        actionRow,
      ],
      values: () => ({ kind: kind.value, text: text.value.trim(), assignee: assignee.value.trim(), due: due.value }),
    };
  }

  function errorText(err) {
    return t({ forbidden: "minutes.err_forbidden", too_large: "minutes.err_too_large", invalid: "minutes.err_invalid",
      not_found: "minutes.err_gone", offline: "err_offline", interrupted: "err_offline" }[err.code] || "err_generic");
  }

  // -- the add form ------------------------------------------------------------------
  const addFields = fieldSet("ma", { kind: "note" });
  const topic = h("select", { id: "ma-topic" });
  const topicBox = h("div", { class: "field" }, h("label", { htmlFor: "ma-topic" }, t("minutes.topic_optional")), topic);
  const addError = h("p", { class: "form-error", attrs: { role: "alert" }, hidden: true });
  const addSubmit = h("button", { type: "submit", class: "btn btn--primary" }, t("minutes.add_submit"));
  const addForm = h("form", { class: "minutes__add", attrs: { "aria-labelledby": "ma-title", novalidate: true } },
    h("h3", { id: "ma-title" }, t("minutes.add_title")),
    h("div", { class: "form-row" }, addFields.nodes[0], topicBox), addFields.nodes[1], addFields.nodes[2],
    addError, addSubmit);
  const readOnly = h("p", { class: "muted" }, t("minutes.read_only"));
  addBox.append(addForm, readOnly);

  addForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    show(addError, false);
    const v = addFields.values();
    if (!v.text) {
      setText(addError, t("minutes.err_empty"));
      show(addError, true);
      addFields.text.focus();
      return;
    }
    const body = { room: model().myRoom, kind: v.kind, text: v.text };
    if (v.kind === "action") {
      if (v.assignee) body.assignee = v.assignee;
      if (v.due) body.due = v.due;
    }
    if (!topicBox.hidden && topic.value) body.topic = topic.value;
    addSubmit.disabled = true;
    try {
      await socket().request("minutes.add", body);
      addFields.text.value = "";
      addFields.assignee.value = "";
      addFields.due.value = "";
      addFields.text.focus();
    } catch (err) {
      setText(addError, errorText(err));
      show(addError, true);
    } finally {
      addSubmit.disabled = false;
    }
  });

  // -- one entry ---------------------------------------------------------------------
  function entryView(entry) {
    const meta = [t("minutes.by", { name: entry.author ? entry.author.name : "" }), hhmm(entry.at)];
    if (entry.edited_at) meta.push(entry.edited_by && entry.edited_by.name
      ? t("minutes.edited_by", { name: entry.edited_by.name }) : t("minutes.edited"));
    const parts = [h("p", { class: "minute__text" }, entry.text)];
    if (entry.kind === "action" && (entry.assignee || entry.due)) {
      parts.push(h("p", { class: "minute__action" },
        entry.assignee ? [h("span", { class: "minute__label" }, `${t("minutes.who")}: `), entry.assignee] : null,
        entry.assignee && entry.due ? " · " : null,
        entry.due ? [h("span", { class: "minute__label" }, `${t("minutes.until")}: `), longDay(entry.due)] : null));
    }
    if (entry.source && entry.source.chat) {
      parts.push(h("p", { class: "minute__source" }, t("minutes.from_chat_by", { name: entry.source.author ? entry.source.author.name : "" })));
    }
    parts.push(h("p", { class: "minute__meta" }, meta.filter(Boolean).join(" · ")));
    if (mayEdit(entry) && !(ended() && !moderator())) {
      const excerpt = entry.text.length > 40 ? `${entry.text.slice(0, 40)}…` : entry.text;
      parts.push(h("div", { class: "minute__actions" },
        h("button", { type: "button", class: "btn btn--small", data: { fkey: `edit-${entry.id}` },
          attrs: { "aria-label": t("minutes.edit_label", { text: excerpt }) },
          on: { click: () => startEdit(entry.id) } }, t("minutes.edit")),
        h("button", { type: "button", class: "btn btn--small btn--quiet", data: { fkey: `del-${entry.id}` },
          attrs: { "aria-label": t("minutes.delete_label", { text: excerpt }) },
          on: { click: () => remove(entry.id) } }, t("minutes.delete"))));
    }
    return parts;
  }

  async function remove(id) {
    if (!window.confirm(t("minutes.delete_confirm"))) return;
    try {
      await socket().request("minutes.delete", { entry: id });
    } catch (err) {
      notify(errorText(err));
    }
  }

  // -- editing and conflicts -----------------------------------------------------------
  function startEdit(id) {
    const entry = model().minutes.get(id);
    if (!entry) return;
    editors.set(id, { id, base: { ...entry }, values: null, conflict: null, note: null, error: null, node: null, prefix: `me${++uid}` });
    drawEditor(id, true);
    redraw();
  }

  function stopEdit(id, focusEntry = true) {
    editors.delete(id);
    const n = nodes.get(id);
    if (n) n.version = null;  // rebuild its view
    redraw();
    if (focusEntry) nodes.get(id)?.li.querySelector("button")?.focus();
  }

  function isDirty(ed) {
    if (ed.conflict) return true;
    const v = ed.read ? ed.read() : ed.values;
    if (!v) return false;
    const b = ed.base;
    return v.text !== (b.text || "") || v.kind !== b.kind
      || (v.kind === "action" && (v.assignee !== (b.assignee || "") || v.due !== (b.due || "")));
  }
  const unsaved = () => [...editors.values()].some(isDirty);

  async function save(id, values, version) {
    const ed = editors.get(id);
    if (!ed) return;
    if (!values.text) {
      ed.error = t("minutes.err_empty");
      drawEditor(id, false);
      return;
    }
    const body = { entry: id, version, text: values.text, kind: values.kind };
    if (values.kind === "action") {
      body.assignee = values.assignee || "";
      body.due = values.due || "";
    }
    ed.busy = true;
    try {
      await socket().request("minutes.edit", body);
      notify(t("minutes.saved"));
      stopEdit(id);
    } catch (err) {
      ed.busy = false;
      if (err.code === "conflict" && err.frame && err.frame.current) {
        ed.values = values;
        ed.conflict = err.frame.current;
        ed.error = null;
        drawEditor(id, true);
        setText(status, t("minutes.conflict_title"));
      } else if (err.code === "not_found") {
        editors.delete(id);
        notify(t("minutes.err_gone"));
        redraw();
      } else {
        ed.values = values;
        ed.error = errorText(err);
        drawEditor(id, false);
      }
    }
  }

  // A note above the editor without rebuilding it (the person may be typing).
  function setEditorNote(ed, text) {
    ed.note = text;
    const form = ed.node && ed.node.querySelector("form");
    if (!form) return;
    let p = form.querySelector(".minute-edit__note");
    if (!p) {
      p = h("p", { class: "notice minute-edit__note", attrs: { role: "status" } });
      form.prepend(p);
    }
    p.textContent = text;
  }

  function drawEditor(id, focus) {
    const ed = editors.get(id);
    if (!ed) return;
    if (!ed.node) ed.node = h("div", { class: "minute-editor" });
    const node = ed.node;
    clear(node);
    if (ed.conflict) {
      const cur = ed.conflict;
      const mine = ed.values;
      const who = cur.edited_by && cur.edited_by.name ? cur.edited_by.name : (cur.author ? cur.author.name : "");
      const version = (title, v, cls) => h("div", { class: `minute-version ${cls}` },
        h("h4", {}, title),
        h("p", { class: "minute-version__kind" }, t(`minutes.kind_${v.kind}`)),
        h("p", { class: "minute-version__text" }, v.text),
        v.kind === "action" && (v.assignee || v.due)
          ? h("p", { class: "hint" }, [v.assignee ? `${t("minutes.who")}: ${v.assignee}` : "", v.due ? `${t("minutes.until")}: ${longDay(v.due)}` : ""].filter(Boolean).join(" · "))
          : null);
      const titleId = `${ed.prefix}-conflict`;
      node.append(h("div", { class: "minute-conflict", attrs: { role: "group", "aria-labelledby": titleId } },
        h("h4", { id: titleId, class: "minute-conflict__title", tabIndex: -1 }, t("minutes.conflict_title")),
        h("p", {}, t("minutes.conflict_lead", { name: who })),
        h("div", { class: "minute-conflict__versions" },
          version(t("minutes.conflict_mine"), mine, "minute-version--mine"),
          version(t("minutes.conflict_current", { name: who, time: hhmm(cur.edited_at || cur.at) }), cur, "minute-version--current")),
        h("div", { class: "minute-conflict__actions" },
          h("button", { type: "button", class: "btn btn--primary", on: { click: () => {
            ed.conflict = null;
            save(id, mine, cur.version);
          } } }, t("minutes.conflict_keep_mine")),
          h("button", { type: "button", class: "btn", on: { click: () => stopEdit(id) } }, t("minutes.conflict_keep_current")),
          h("button", { type: "button", class: "btn", on: { click: () => {
            ed.base = { ...cur };
            ed.values = { ...mine, text: cur.text === mine.text ? mine.text : `${cur.text}\n${mine.text}` };
            ed.conflict = null;
            ed.note = t("minutes.merge_hint");
            drawEditor(id, true);
          } } }, t("minutes.conflict_merge")))));
      if (focus) requestAnimationFrame(() => node.querySelector(".minute-conflict__title")?.focus());
      return;
    }
    const f = fieldSet(ed.prefix, ed.values || ed.base);
    ed.read = f.values;
    const err = h("p", { class: "form-error", attrs: { role: "alert" }, hidden: !ed.error }, ed.error || "");
    const form = h("form", { class: "minute-edit", attrs: { novalidate: true, "aria-label": t("minutes.edit_title") } },
      ed.note ? h("p", { class: "notice minute-edit__note", attrs: { role: "status" } }, ed.note) : null,
      f.nodes, err,
      h("div", { class: "minute__actions" },
        h("button", { type: "submit", class: "btn btn--primary" }, t("minutes.save")),
        h("button", { type: "button", class: "btn", on: { click: () => stopEdit(id) } }, t("minutes.cancel"))));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (!ed.busy) save(id, f.values(), ed.base.version);
    });
    node.append(form);
    if (focus) requestAnimationFrame(() => f.text.focus());
  }

  // -- the list ----------------------------------------------------------------------
  function redraw() {
    if (!store.ready) {
      clear(groups);
      nodes.clear();
      editors.clear();
      return;
    }
    const m = model();
    const entries = [...m.minutes.values()].sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
    const byKind = new Map(KINDS.map((k) => [k, []]));
    for (const e of entries) (byKind.get(e.kind) || byKind.get("note")).push(e);
    // An entry deleted by someone else while I edit it: say so, the editor closes.
    for (const id of [...editors.keys()]) {
      if (!m.minutes.has(id)) {
        editors.delete(id);
        notify(t("minutes.deleted_meanwhile"));
      }
    }
    const seen = new Set();
    const wanted = [];
    for (const kind of KINDS) {
      const list = byKind.get(kind);
      if (list.length) wanted.push([kind, list]);
    }
    // Build or reuse one <section> per kind, in order.
    const existing = new Map([...groups.children].map((el) => [el.dataset.kind, el]));
    let anchor = null;
    for (const [kind, list] of wanted) {
      let sec = existing.get(kind);
      if (!sec) {
        sec = h("section", { class: `minutes__group minutes__group--${kind}`, data: { kind } },
          h("h3", {}, t(GROUP_TITLE[kind])), h("ul", { class: "minutes__list" }));
      }
      existing.delete(kind);
      const want = anchor ? anchor.nextSibling : groups.firstChild;
      if (want !== sec) groups.insertBefore(sec, want);
      anchor = sec;
      const ul = sec.querySelector("ul");
      list.forEach((entry, i) => {
        seen.add(entry.id);
        let n = nodes.get(entry.id);
        if (!n) {
          n = { li: h("li", { class: "minute", data: { entry: entry.id } }), version: null, editing: false };
          nodes.set(entry.id, n);
        }
        const ed = editors.get(entry.id);
        if (ed) {
          if (!n.editing || n.li.firstChild !== ed.node) {
            clear(n.li).append(ed.node);
            n.editing = true;
          }
          if (ed.base.version !== entry.version && !ed.conflict && !ed.changedNoted) {
            ed.changedNoted = true;
            setEditorNote(ed, t("minutes.changed_meanwhile", { name: entry.edited_by ? entry.edited_by.name : "" }));
          }
        } else if (n.editing || n.version !== `${entry.version}|${entry.kind}|${ended()}|${moderator()}`) {
          clear(n.li).append(...entryView(entry));
          n.editing = false;
          n.version = `${entry.version}|${entry.kind}|${ended()}|${moderator()}`;
        }
        n.li.classList.toggle("minute--editing", Boolean(ed));
        if (ul.children[i] !== n.li) ul.insertBefore(n.li, ul.children[i] || null);
      });
      while (ul.children.length > list.length) ul.lastChild.remove();
    }
    for (const sec of existing.values()) sec.remove();
    for (const id of [...nodes.keys()]) if (!seen.has(id)) { nodes.get(id).li.remove(); nodes.delete(id); }
    if (!wanted.length) {
      if (!groups.querySelector(".minutes__empty")) groups.append(h("p", { class: "muted minutes__empty" }, t("minutes.empty")));
    } else {
      groups.querySelector(".minutes__empty")?.remove();
    }
  }

  function drawChrome() {
    if (!store.ready) return;
    const m = model();
    const room = m.rooms.get(m.myRoom);
    const plenary = m.myRoom === m.event.plenary_room || !room || room.kind !== "breakout";
    const topicOf = room && room.topic ? (m.event.topics || []).find((x) => x.id === room.topic) : null;
    setText(where, plenary ? t("minutes.where_plenary")
      : t("minutes.where_room", { title: room.title, topic: topicOf ? topicOf.title : room.title }));
    const s = session();
    if (s && s.token) {
      // no token in the URL (contract §9): the event's cookie (POST .../session) lets it in
      review.href = `/events/${encodeURIComponent(eventId)}/review?lang=${encodeURIComponent(pageLang())}`;

    }
    const may = m.minutesAccess.may_write && !(ended() && !moderator());
    show(addForm, may);
    show(readOnly, !may);
    setText(readOnly, ended() ? t("minutes.read_only_ended") : t("minutes.read_only"));
    // The topic: in a breakout it is the room's; in the plenary the writer may name one.
    const topics = m.event.topics || [];
    show(topicBox, plenary && topics.length > 0);
    const keep = topic.value;
    clear(topic).append(h("option", { value: "" }, t("minutes.topic_none")),
      ...topics.map((x) => h("option", { value: x.id }, x.title)));
    topic.value = topics.some((x) => x.id === keep) ? keep : "";
    show(endedNotice, ended());
    drawEnd();
  }

  // -- ending the event (moderators) ----------------------------------------------------
  const endError = h("p", { class: "form-error", attrs: { role: "alert" }, hidden: true });
  const endButton = h("button", { type: "button", class: "btn btn--danger" }, t("minutes.end_event"));
  const endWrap = h("div", { class: "minutes__end" }, h("h3", {}, t("minutes.end_title")),
    h("p", { class: "hint" }, t("minutes.end_hint")), endButton, endError);
  endBox.append(endWrap);
  endButton.addEventListener("click", async () => {
    const question = unsaved() ? t("minutes.end_confirm_unsaved") : t("minutes.end_confirm");
    if (!window.confirm(question)) return;
    show(endError, false);
    endButton.disabled = true;
    try {
      await socket().request("event.end", {});
    } catch (err) {
      setText(endError, err.code === "conflict" ? t("minutes.end_already") : errorText(err));
      show(endError, true);
    } finally {
      endButton.disabled = false;
    }
  });
  function drawEnd() {
    show(endWrap, moderator() && !ended());
  }
  window.addEventListener("beforeunload", (ev) => {
    if (unsaved()) {
      ev.preventDefault();
      ev.returnValue = "";
    }
  });

  // -- "to the minutes" on chat lines (moderators) --------------------------------------
  const fromChat = new Set();
  lineExtras.push((message) => {
    if (!store.ready || !moderator()) return null;
    const done = fromChat.has(message.id) || [...model().minutes.values()].some((e) => e.source && e.source.chat === message.id);
    const button = h("button", { type: "button", class: "btn btn--small btn--quiet chat-line__minutes", disabled: done,
      attrs: { "aria-label": t("minutes.from_chat_label", { name: message.author ? message.author.name : "" }) } },
    done ? t("minutes.from_chat_done") : t("minutes.from_chat_button"));
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        await socket().request("minutes.from_chat", { message: message.id });
        fromChat.add(message.id);
        setText(button, t("minutes.from_chat_done"));
        notify(t("minutes.from_chat_notice"));
      } catch (err) {
        button.disabled = false;
        notify(errorText(err));
      }
    });
    return button;
  });

  // -- events ------------------------------------------------------------------------
  store.subscribe("reset", () => {
    // A new room (or a full state): editors of entries that are not here any more go.
    if (!store.ready) {
      editors.clear();
    } else {
      for (const id of [...editors.keys()]) if (!model().minutes.has(id)) editors.delete(id);
    }
    for (const n of nodes.values()) n.version = null;
    drawChrome();
    redraw();
  });
  for (const kind of ["minutes.added", "minutes.edited", "minutes.deleted"]) store.subscribe(kind, redraw);
  store.subscribe("minutes.added", (ev) => {
    if (ev.entry.author && ev.entry.author.id !== model().me.id) {
      setText(status, t("minutes.added_by", { name: ev.entry.author.name, kind: t(`minutes.kind_${ev.entry.kind}`) }));
    }
  });
  store.subscribe("minutes.restricted", drawChrome);
  store.subscribe("participant.moved", (ev) => { if (ev.participant === model().me.id) drawChrome(); });
  store.subscribe("breakouts.opened", drawChrome);
  store.subscribe("event.ended", () => {
    drawChrome();
    for (const n of nodes.values()) n.version = null;
    redraw();
  });
  show(section, true);
}
