// The message catalog of the page language (the same file the server renders pages with).

let catalog = {};

export function pageLang() {
  return document.documentElement.lang || "de";
}

export async function loadCatalog(lang = pageLang()) {
  try {
    const response = await fetch(`/i18n/${encodeURIComponent(lang)}.json`, { credentials: "same-origin" });
    if (response.ok) catalog = await response.json();
  } catch {
    catalog = {};
  }
  return catalog;
}

/** t("people_count", {n: 3}) -> "3 anwesend". A missing key shows itself, never crashes. */
export function t(key, params = {}) {
  const template = Object.prototype.hasOwnProperty.call(catalog, key) ? catalog[key] : key;
  return template.replace(/\{(\w+)\}/g, (whole, name) =>
    Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : whole);
}
