// Staff facility pages: close a unit for some days (a block) and the month's usage rates.
import { api } from "../api.js";
import { h, mount } from "../dom.js";
import { localized, t } from "../i18n.js";
import { apiForm, field, notice, submit } from "./common.js";
import { monthRange, thisMonth } from "./facilities.js";

export async function staffFacilitiesView(main) {
  const page = await api("/v1/facilities", { query: { limit: 100 } });
  const result = h("div", { "aria-live": "polite" });
  const usage = h("div");
  const { from, to } = monthRange(thisMonth());
  const block = apiForm(
    { "aria-labelledby": "block-title", class: "panel" },
    [
      h("h2", { id: "block-title" }, t("block_title")),
      field("facility", "facility", { tag: "select", options: page.items.map((f) => h("option", { value: f.code }, localized(f, "name"))) }),
      field("unit_code", "unit_code", { required: true, hint: "unit_code_hint" }),
      field("day_from", "day_from", { type: "date", required: true }),
      field("day_to", "day_to", { type: "date", required: true }),
      field("reason_ja", "block_reason", { required: true, maxlength: 200 }),
      submit("block_submit"),
    ],
    async (values) => {
      const made = await api(`/v1/facilities/${values.facility}/blocks`, {
        method: "POST",
        idempotent: true,
        body: { unit_code: values.unit_code, day_from: values.day_from, day_to: values.day_to, reason_ja: values.reason_ja },
      });
      mount(result, notice(t("block_done", { from: made.day_from, to: made.day_to }), "success"));
    },
  );
  const usageForm = apiForm(
    { "aria-labelledby": "usage-title", class: "panel" },
    [
      h("h2", { id: "usage-title" }, t("usage_title")),
      field("facility", "facility", { tag: "select", options: page.items.map((f) => h("option", { value: f.code }, localized(f, "name"))) }),
      submit("show"),
    ],
    async (values) => {
      const u = await api(`/v1/facilities/${values.facility}/usage`, { query: { from, to } });
      mount(
        usage,
        h("p", {}, t("usage_rate", { rate: Math.round(u.facility_rate * 100) })),
        h("ul", {}, u.units.map((unit) => h("li", {}, t("usage_unit", { unit: unit.unit_code, rate: Math.round(unit.occupancy_rate * 100), booked: unit.booked_slots, open: unit.open_slots })))),
      );
    },
  );
  mount(main, h("h1", {}, t("nav_facility_admin")), block, result, usageForm, usage);
}
