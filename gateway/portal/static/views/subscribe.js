// Alert mail sign-up (confirmed from the mailed link) and the alerts now in effect.
import { api } from "../api.js";
import { h, mount } from "../dom.js";
import { lang, localized, t } from "../i18n.js";
import { alertItem } from "./banner.js";
import { apiForm, field, notice, submit } from "./common.js";

function checkboxes(name, legendKey, items) {
  return h(
    "fieldset",
    { class: "field", "data-field": name },
    h("legend", {}, t(legendKey)),
    items.map((item) =>
      h(
        "div",
        { class: "check" },
        h("input", { type: "checkbox", name, value: item.code, id: `${name}-${item.code}` }),
        h("label", { for: `${name}-${item.code}` }, localized(item, "name")),
      ),
    ),
    h("p", { class: "error" }),
  );
}

export async function subscribeView(main) {
  const [categories, districts, current] = await Promise.all([
    api("/v1/categories"),
    api("/v1/districts"),
    api("/v1/alerts/public", { query: { limit: 20 } }),
  ]);
  const done = h("div");
  const form = apiForm(
    { "aria-labelledby": "subscribe-title" },
    [
      h("h2", { id: "subscribe-title" }, t("subscribe_title")),
      field("email", "email", { type: "email", required: true, autocomplete: "email" }),
      checkboxes("categories", "categories", categories.items),
      checkboxes("districts", "districts", districts.items),
      submit("subscribe_submit"),
    ],
    async (_values, formElement) => {
      const data = new FormData(formElement);
      const body = {
        email: data.get("email"),
        categories: data.getAll("categories"),
        districts: data.getAll("districts"),
        language: lang(),
      };
      await api("/v1/subscriptions", { method: "POST", idempotent: true, body });
      mount(done, notice(t("subscribe_sent", { email: body.email })));
    },
  );
  mount(
    main,
    h("h1", {}, t("nav_alerts")),
    h("section", { "aria-labelledby": "current-alerts" }, h("h2", { id: "current-alerts" }, t("current_alerts")),
      current.items.length ? current.items.map(alertItem) : h("p", {}, t("no_alerts"))),
    form,
    done,
  );
}
