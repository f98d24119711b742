// Kiosk mode (公共情報端末 / 施設予約 touch panels): today's free slots and alerts, no login.
import { api } from "../api.js";
import { h, mount } from "../dom.js";
import { localized, t } from "../i18n.js";
import { alertItem } from "./banner.js";

function today() {
  return new Date().toLocaleDateString("sv-SE", { timeZone: "Asia/Tokyo" });
}

async function facilityToday(main, f) {
  const day = today();
  const rows = await Promise.all(
    f.units.map(async (unit) => {
      const a = await api(`/v1/facilities/${f.code}/availability`, { query: { unit: unit.code, from: day, to: day } });
      return { unit, cells: a.days[0]?.cells || [] };
    }),
  );
  const labels = Object.fromEntries(f.slots.map((s) => [s.code, s.label_ja]));
  mount(
    main,
    h("h1", {}, localized(f, "name"), " ", t("kiosk_today", { day })),
    h("button", { type: "button", class: "kiosk-button", onclick: () => kioskView(main) }, t("kiosk_back")),
    h(
      "table",
      { class: "availability kiosk-grid", tabindex: 0 },
      h("caption", {}, t("availability_caption")),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("unit")), f.slots.map((s) => h("th", { scope: "col" }, s.label_ja)))),
      h(
        "tbody",
        {},
        rows.map(({ unit, cells }) =>
          h("tr", {}, h("th", { scope: "row" }, unit.name_ja), cells.map((c) => h("td", { "data-state": c.state, title: labels[c.slot_code] }, t(`state_${c.state}`)))),
        ),
      ),
    ),
  );
}

export async function kioskView(main) {
  const [facilities, alerts] = await Promise.all([api("/v1/facilities", { query: { limit: 100 } }), api("/v1/alerts/public", { query: { limit: 10 } })]);
  mount(
    main,
    h("h1", {}, t("kiosk_title")),
    h(
      "section",
      { "aria-labelledby": "kiosk-alerts" },
      h("h2", { id: "kiosk-alerts" }, t("current_alerts")),
      alerts.items.length ? alerts.items.map(alertItem) : h("p", {}, t("no_alerts")),
    ),
    h(
      "section",
      { "aria-labelledby": "kiosk-facilities" },
      h("h2", { id: "kiosk-facilities" }, t("kiosk_facilities")),
      h(
        "ul",
        { class: "kiosk-tiles" },
        facilities.items.map((f) => h("li", {}, h("button", { type: "button", class: "kiosk-button", onclick: () => facilityToday(main, f) }, localized(f, "name")))),
      ),
    ),
  );
}
