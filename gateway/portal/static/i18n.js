// Japanese first: one catalogue per language; a key missing in English falls back to Japanese.
const LANG_KEY = "cityhall.portal.lang";
const catalogues = {};
let current = "ja";

export async function loadCatalogues() {
  const [ja, en] = await Promise.all(
    ["ja", "en"].map((lang) => fetch(`/portal/i18n/${lang}.json`).then((r) => r.json())),
  );
  catalogues.ja = ja;
  catalogues.en = en;
  current = localStorage.getItem(LANG_KEY) === "en" ? "en" : "ja";
  document.documentElement.lang = current;
}

export function lang() {
  return current;
}

export function setLang(next) {
  current = next === "en" ? "en" : "ja";
  localStorage.setItem(LANG_KEY, current);
  document.documentElement.lang = current;
}

export function t(key, vars = {}) {
  const text = catalogues[current]?.[key] ?? catalogues.ja?.[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

// API objects carry `name_ja` / `name_en`: pick the one for the page's language.
export function localized(object, field) {
  if (current === "en" && object[`${field}_en`]) return object[`${field}_en`];
  return object[`${field}_ja`] ?? object[field] ?? "";
}

export function translateStatic(root = document) {
  for (const element of root.querySelectorAll("[data-i18n]")) {
    element.textContent = t(element.dataset.i18n);
  }
  for (const element of root.querySelectorAll("[data-i18n-aria]")) {
    element.setAttribute("aria-label", t(element.dataset.i18nAria));
  }
}
