// Staff facility pages: close a unit for some days or slots (a block: maintenance, city
// events) and see it in the month grid; the month's usage per unit, as the API counts it.
import { api } from "../api.js";
import { h, mount } from "../dom.js";
import { localized, t } from "../i18n.js";
import { apiForm, dataTable, field, notice, submit } from "./common.js";
import { availabilityGrid, monthRange, thisMonth } from "./facilities.js";

const percent = (rate) => `${Math.round(rate * 1000) / 10}%`;

// The unit select and slot checkboxes follow the chosen facility.
function unitOptions(site) {
  return site.units.map((u) => h("option", { value: u.code }, localized(u, "name")));
}

function slotChoices(site) {
  return h(
    "fieldset",
    { class: "slots" },
    h("legend", {}, t("block_slots")),
    h("p", { class: "hint" }, t("block_slots_hint")),
    site.slots.map((s) =>
      h(
        "div",
        { class: "field check" },
        h("input", { type: "checkbox", name: "slot_codes", value: s.code, id: `block-slot-${s.code}` }),
        h("label", { for: `block-slot-${s.code}` }, `${s.label_ja}（${s.start.slice(0, 5)}〜${s.end.slice(0, 5)}）`),
      ),
    ),
  );
}

export async function staffFacilitiesView(main) {
  const page = await api("/v1/facilities", { query: { limit: 100 } });
  const sites = {};
  const site = async (code) => (sites[code] ??= await api(`/v1/facilities/${encodeURIComponent(code)}`));
  const facilityOptions = () => page.items.map((f) => h("option", { value: f.code }, localized(f, "name")));
  const first = await site(page.items[0].code);

  const result = h("div", { id: "block-result", "aria-live": "polite" });
  const unitField = field("unit_code", "unit", { tag: "select", required: true, options: unitOptions(first) });
  const slots = h("div", {}, slotChoices(first));
  const blockFacility = field("facility", "facility", { tag: "select", options: facilityOptions() });
  blockFacility.querySelector("select").addEventListener("change", async (event) => {
    const chosen = await site(event.target.value);
    unitField.querySelector("select").replaceChildren(...unitOptions(chosen));
    mount(slots, slotChoices(chosen));
  });
  const block = apiForm(
    { "aria-labelledby": "block-title", class: "panel" },
    [
      h("h2", { id: "block-title" }, t("block_title")),
      blockFacility,
      unitField,
      field("day_from", "day_from", { type: "date", required: true }),
      field("day_to", "day_to", { type: "date", required: true }),
      slots,
      field("reason_ja", "block_reason", { required: true, maxlength: 200 }),
      submit("block_submit"),
    ],
    async (values, form) => {
      const slotCodes = [...form.querySelectorAll("input[name=slot_codes]:checked")].map((input) => input.value);
      const made = await api(`/v1/facilities/${values.facility}/blocks`, {
        method: "POST",
        idempotent: true,
        body: {
          unit_code: values.unit_code,
          day_from: values.day_from,
          day_to: values.day_to,
          slot_codes: slotCodes.length ? slotCodes : null,
          reason_ja: values.reason_ja,
        },
      });
      const f = await site(made.facility_code);
      const { from, to } = monthRange(made.day_from.slice(0, 7));
      const availability = await api(`/v1/facilities/${encodeURIComponent(f.code)}/availability`, { query: { unit: made.unit_code, from, to } });
      const unit = f.units.find((u) => u.code === made.unit_code);
      mount(
        result,
        notice(t("block_done", { from: made.day_from, to: made.day_to }), "success"),
        h("h3", { id: "block-grid-title" }, t("block_grid_title", { facility: localized(f, "name"), unit: localized(unit, "name"), month: made.day_from.slice(0, 7) })),
        availabilityGrid(availability, f.slots, null),
      );
    },
  );

  const usage = h("div", { id: "usage-result", "aria-live": "polite" });
  const usageForm = apiForm(
    { "aria-labelledby": "usage-title", class: "panel" },
    [
      h("h2", { id: "usage-title" }, t("usage_title")),
      field("facility", "facility", { tag: "select", options: facilityOptions() }),
      field("month", "month", { type: "month", required: true, value: thisMonth() }),
      submit("show"),
    ],
    async (values) => {
      const f = await site(values.facility);
      const { from, to } = monthRange(values.month || thisMonth());
      const u = await api(`/v1/facilities/${encodeURIComponent(f.code)}/usage`, { query: { from, to } });
      const names = Object.fromEntries(f.units.map((unit) => [unit.code, localized(unit, "name")]));
      mount(
        usage,
        h("p", { id: "facility-rate" }, t("usage_rate", { rate: percent(u.facility_rate) })),
        dataTable(
          t("usage_caption", { facility: localized(f, "name"), from: u.day_from, to: u.day_to }),
          ["unit", "usage_open", "usage_booked", "usage_blocked", "usage_occupancy"],
          u.units,
          (unit) => [names[unit.unit_code] || unit.unit_code, String(unit.open_slots), String(unit.booked_slots), String(unit.blocked_slots), percent(unit.occupancy_rate)],
          (unit) => ({ "data-unit": unit.unit_code }),
        ),
      );
    },
  );
  mount(main, h("h1", {}, t("nav_facility_admin")), block, result, usageForm, usage);
}
