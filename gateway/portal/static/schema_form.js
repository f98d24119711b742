// A form rendered from a procedure's JSON Schema (2020-12 subset the catalogue uses):
// strings (date, email, long text), enums with `x-labels-ja`, booleans, integers, arrays of
// objects, and `allOf: [{if: {properties: {X: {const: V}}}, then: {required: [Y]}}]` as
// fields Y shown only while X is V. Field errors go next to their control by JSON pointer.
// Titles and enum labels are Japanese (`title`, `x-labels-ja`); the catalogue carries English
// ones beside them (`x-title-en`, `x-labels-en`) for the English switch. Only the text
// changes with the language: names and pointers stay the schema's.
import { h, uid } from "./dom.js";
import { lang, t } from "./i18n.js";

function titleOf(name, property) {
  return (lang() === "en" && property["x-title-en"]) || property.title || name;
}

function enumLabels(property) {
  const en = property["x-labels-en"];
  if (lang() === "en" && en?.length === property.enum.length) return en;
  return property["x-labels-ja"] || property.enum;
}

function conditions(schema) {
  const shownWhen = {};
  for (const rule of schema.allOf || []) {
    const test = rule.if?.properties || {};
    const [field] = Object.keys(test);
    if (!field || !("const" in test[field])) continue;
    for (const dependent of rule.then?.required || []) {
      if (!(schema.required || []).includes(dependent)) {
        shownWhen[dependent] = { field, value: test[field].const };
      }
    }
  }
  return shownWhen;
}

function labelText(name, property, required) {
  return [titleOf(name, property), required ? h("span", { class: "req" }, t("required_mark")) : null];
}

function control(pointer, property, required) {
  const id = uid("f");
  const errorId = `${id}-error`;
  const common = { id, name: pointer, "aria-describedby": errorId, "data-pointer": pointer };
  let input;
  if (property.enum) {
    const labels = enumLabels(property);
    input = h(
      "select",
      { ...common, required },
      h("option", { value: "" }, t("choose")),
      property.enum.map((value, i) => h("option", { value }, labels[i])),
    );
  } else if (property.type === "boolean") {
    input = h("input", { ...common, type: "checkbox", "data-kind": "boolean" });
    return h(
      "div",
      { class: "field check", "data-field": pointer },
      input,
      h("label", { for: id }, labelText(pointer, property, false)),
      h("p", { class: "error", id: errorId }),
    );
  } else if (property.type === "integer" || property.type === "number") {
    input = h("input", {
      ...common,
      type: "number",
      inputmode: "numeric",
      min: property.minimum,
      max: property.maximum,
      required,
      "data-kind": "number",
    });
  } else if ((property.maxLength || 0) > 200) {
    input = h("textarea", { ...common, rows: 5, maxlength: property.maxLength, required });
  } else {
    const type = { date: "date", email: "email" }[property.format] || "text";
    input = h("input", { ...common, type, maxlength: property.maxLength, required });
  }
  return h(
    "div",
    { class: "field", "data-field": pointer },
    h("label", { for: id }, labelText(pointer, property, required)),
    input,
    h("p", { class: "error", id: errorId }),
  );
}

function arrayField(name, property, required) {
  const rows = h("div", { class: "rows" });
  const itemSchema = property.items || {};
  const addRow = () => {
    const index = rows.children.length;
    const row = h(
      "fieldset",
      { class: "row", "data-row": index },
      h("legend", {}, `${titleOf(name, property)} ${index + 1}`),
      Object.entries(itemSchema.properties || {}).map(([key, sub]) =>
        control(`${name}/${index}/${key}`, sub, (itemSchema.required || []).includes(key)),
      ),
    );
    rows.append(row);
  };
  addRow();
  rows.addRow = addRow;
  const add = h("button", { type: "button", class: "secondary", onclick: addRow }, t("add_row"));
  return h(
    "fieldset",
    { class: "field group", "data-field": name },
    h("legend", {}, labelText(name, property, required)),
    rows,
    add,
    h("p", { class: "error", id: `${name}-error` }),
  );
}

export function renderSchemaForm(schema) {
  const shownWhen = conditions(schema);
  const required = new Set(schema.required || []);
  const fields = Object.entries(schema.properties || {}).map(([name, property]) =>
    property.type === "array"
      ? arrayField(name, property, required.has(name))
      : control(name, property, required.has(name) || name in shownWhen),
  );
  const container = h("div", { class: "schema-form" }, fields);
  const refresh = () => {
    const values = collect(container);
    for (const [dependent, rule] of Object.entries(shownWhen)) {
      const field = container.querySelector(`[data-field="${dependent}"]`);
      field.hidden = values[rule.field] !== rule.value;
    }
  };
  container.addEventListener("change", refresh);
  refresh();
  return container;
}

function valueAt(value, pointer) {
  return pointer.split("/").reduce((node, key) => (node === undefined || node === null ? undefined : node[key]), value);
}

// Puts a submitted form's values back (a correction starts from what was sent).
export function fill(container, value) {
  for (const group of container.querySelectorAll(".group[data-field]")) {
    const rows = group.querySelector(".rows");
    const wanted = (value[group.dataset.field] || []).length;
    while (rows.children.length < wanted) rows.addRow();
  }
  for (const element of container.querySelectorAll("[data-pointer]")) {
    const found = valueAt(value, element.dataset.pointer);
    if (found === undefined) continue;
    if (element.dataset.kind === "boolean") element.checked = Boolean(found);
    else element.value = String(found);
  }
  container.dispatchEvent(new Event("change"));
}

// Marks the fields staff asked to correct (JSON pointers such as "/phone").
export function markForCorrection(container, pointers, message) {
  for (const pointer of pointers) {
    const control = container.querySelector(`[name="${CSS.escape(pointer.replace(/^\//, ""))}"]`);
    const slot = control?.closest(".field")?.querySelector(".error");
    if (!control || !slot) continue;
    control.setAttribute("aria-invalid", "true");
    slot.textContent = message;
  }
}

function parse(element) {
  if (element.dataset.kind === "boolean") return element.checked;
  if (element.value === "") return undefined;
  if (element.dataset.kind === "number") return Number(element.value);
  return element.value;
}

// The form's value as the schema wants it; hidden (conditional) and empty fields are left out.
export function collect(container) {
  const value = {};
  for (const element of container.querySelectorAll("[data-pointer]")) {
    if (element.closest("[hidden]")) continue;
    const parsed = parse(element);
    if (parsed === undefined) continue;
    const path = element.dataset.pointer.split("/");
    let target = value;
    for (let i = 0; i < path.length - 1; i += 1) {
      const key = path[i];
      const nextIsIndex = /^\d+$/.test(path[i + 1]);
      target[key] ??= nextIsIndex ? [] : {};
      target = target[key];
    }
    target[path.at(-1)] = parsed;
  }
  return value;
}

export function clearErrors(root) {
  for (const element of root.querySelectorAll(".error")) element.textContent = "";
  for (const element of root.querySelectorAll("[aria-invalid]")) element.removeAttribute("aria-invalid");
  root.querySelector(".error-summary")?.remove();
}

// Puts each message next to its field (by pointer or name); unknown keys go in the summary.
export function showErrors(form, error) {
  clearErrors(form);
  const items = [];
  for (const [key, message] of Object.entries(error.fields || {})) {
    const control = form.querySelector(`[name="${CSS.escape(key)}"]`);
    const group = form.querySelector(`[data-field="${CSS.escape(key)}"]`);
    const target = control || group;
    if (target) {
      if (control) control.setAttribute("aria-invalid", "true");
      const slot = target.closest(".field")?.querySelector(".error") || group?.querySelector(".error");
      if (slot) slot.textContent = message;
      const focus = (event) => {
        event.preventDefault();
        (control || target).focus();
      };
      items.push(h("li", {}, h("a", { href: `#${(control || target).id}`, onclick: focus }, message)));
    } else {
      items.push(h("li", {}, `${key}: ${message}`));
    }
  }
  const summary = h(
    "div",
    { class: "error-summary", role: "alert", tabindex: "-1" },
    h("h2", {}, t("error_summary")),
    h("p", {}, error.message),
    items.length ? h("ul", {}, items) : null,
  );
  form.prepend(summary);
  summary.focus();
}
