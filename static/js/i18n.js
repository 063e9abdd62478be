// Interface strings come from the server's catalog (hub/i18n.py), passed by the page as a JSON
// blob, so French and English stay in one place and nothing is hard-coded in scripts.

let strings = {};

/** Read the strings and settings blobs the template put in the page. */
export function readJson(id) {
  const element = document.getElementById(id);
  return element ? JSON.parse(element.textContent) : {};
}

export function loadStrings(id = "i18n") {
  strings = readJson(id);
}

/** The string for `key` with `{name}` placeholders filled from `values`. */
export function t(key, values = {}) {
  const text = strings[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}
