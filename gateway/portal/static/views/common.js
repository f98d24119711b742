// Pieces every view uses: a labelled field, a form that shows the API's field errors, status.
import { ApiError } from "../api.js";
import { h, uid } from "../dom.js";
import { t } from "../i18n.js";
import { clearErrors, showErrors } from "../schema_form.js";

export function field(name, labelKey, attrs = {}) {
  const id = uid("f");
  const hint = attrs.hint ? h("p", { class: "hint", id: `${id}-hint` }, t(attrs.hint)) : null;
  const { hint: _hint, tag = "input", options, ...rest } = attrs;
  const describedBy = [hint ? `${id}-hint` : null, `${id}-error`].filter(Boolean).join(" ");
  const control =
    tag === "select"
      ? h("select", { id, name, "aria-describedby": describedBy, ...rest }, options)
      : h(tag, { id, name, "aria-describedby": describedBy, ...rest });
  return h(
    "div",
    { class: "field" },
    h("label", { for: id }, t(labelKey), rest.required ? h("span", { class: "req" }, t("required_mark")) : null),
    hint,
    control,
    h("p", { class: "error", id: `${id}-error` }),
  );
}

export function formValues(form) {
  return Object.fromEntries(new FormData(form));
}

// A form whose submit calls `action(values)`; an ApiError's fields land next to the fields.
export function apiForm(attrs, children, action) {
  const form = h("form", { novalidate: true, ...attrs }, children);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    try {
      await action(formValues(form), form);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      showErrors(form, error);
    } finally {
      if (button) button.disabled = false;
    }
  });
  return form;
}

export function submit(labelKey) {
  return h("button", { type: "submit" }, t(labelKey));
}

export function notice(text, kind = "info") {
  return h("div", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}

export function requireLogin(main) {
  main.replaceChildren(
    h("h1", {}, t("login_required")),
    h("p", {}, h("a", { href: "#/login" }, t("nav_login"))),
  );
}

export function when(iso) {
  return iso ? new Date(iso).toLocaleString("ja-JP", { timeZone: "Asia/Tokyo" }) : "";
}

// Calls `load` again every few seconds while `pending()` holds and the page is still shown.
export function refreshWhile(pending, load, everyMs = 1500) {
  const shown = location.hash;
  const tick = async () => {
    if (location.hash !== shown || !pending()) return;
    await load();
    setTimeout(tick, everyMs);
  };
  setTimeout(tick, everyMs);
}

// A table of rows (scrollable on a phone, so focusable): `cells(row)` gives each row's cells.
export function dataTable(caption, headingKeys, rows, cells, rowAttrs = () => ({})) {
  return h(
    "table",
    { tabindex: 0 },
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, headingKeys.map((key) => h("th", { scope: "col" }, t(key))))),
    h("tbody", {}, rows.map((row) => h("tr", rowAttrs(row), cells(row).map((cell) => h("td", {}, cell))))),
  );
}
