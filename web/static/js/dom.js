// Small DOM helpers. User text only ever goes through textContent / text nodes.

export const $ = (selector, root = document) => root.querySelector(selector);

/**
 * h("li", {class: "x", data: {id: "1"}, attrs: {"aria-label": "..."}, on: {click: fn}}, child, ...)
 * Children may be nodes, strings (become text nodes), null/false (skipped) or arrays.
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key === "data") Object.assign(el.dataset, value);
    else if (key === "attrs") for (const [a, v] of Object.entries(value)) { if (v !== null && v !== undefined && v !== false) el.setAttribute(a, v === true ? "" : String(v)); }
    else if (key === "on") for (const [ev, fn] of Object.entries(value)) el.addEventListener(ev, fn);
    else el[key] = value;  // id, type, hidden, value, disabled, href, ...
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function show(el, visible = true) {
  if (el) el.hidden = !visible;
}

export function setText(el, text) {
  if (el) el.textContent = text ?? "";
}

const pad = (n) => String(n).padStart(2, "0");

/** Local time of an ISO timestamp as HH:MM. */
export function hhmm(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? "" : `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A date (and time) in the page language, for agenda and lists. */
export function longDate(iso, lang, withTime = true) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso || "";
  const opts = { dateStyle: "long" };
  if (withTime) opts.timeStyle = "short";
  try { return new Intl.DateTimeFormat(lang, opts).format(d); } catch { return d.toLocaleString(); }
}
