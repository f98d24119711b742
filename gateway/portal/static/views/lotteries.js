// Lottery rounds (抽選): a facility's rounds, entering one, my entries and their results, and
// confirming a win into a reservation (paid like any booking on the reservation page).
import { api, session } from "../api.js";
import { h, mount } from "../dom.js";
import { localized, t } from "../i18n.js";
import { apiForm, field, notice, submit, when } from "./common.js";
import { monthRange, registration, registrationForm } from "./facilities.js";

// `mine` (round id → my entries) and `sites` (facility code → facility), when given, list
// each entry's result after its round.
export function roundLinks(rounds, mine = {}, sites = {}) {
  if (!rounds.length) return null;
  return h(
    "section",
    { class: "panel", "aria-labelledby": "rounds-title" },
    h("h2", { id: "rounds-title" }, t("lottery_rounds")),
    h(
      "ul",
      {},
      rounds.map((r) =>
        h(
          "li",
          {},
          h("a", { href: `#/lotteries/${r.id}` }, r.title_ja),
          " ",
          h("span", { class: "meta" }, t(`round_${r.status}`)),
          (mine[r.id] || []).length
            ? h("ul", { class: "my-results" }, mine[r.id].map((e) => h("li", { "data-status": e.status }, `${entryLabel(e, sites[r.facility_code])}: ${t(`entry_${e.status}`)}`)))
            : null,
        ),
      ),
    ),
  );
}

function entryLabel(entry, f) {
  const unit = f.units.find((u) => u.code === entry.unit_code);
  const slot = f.slots.find((s) => s.code === entry.slot_code);
  return `${entry.day} ${unit ? unit.name_ja : entry.unit_code} ${slot ? slot.label_ja : entry.slot_code}`;
}

function entryForm(r, f, done) {
  const { from, to } = monthRange(r.target_month);
  const units = f.units.filter((u) => r.unit_codes.includes(u.code));
  return apiForm(
    { "aria-labelledby": "enter-title", class: "panel" },
    [
      h("h2", { id: "enter-title" }, t("lottery_enter_title")),
      h("p", {}, t("lottery_enter_intro", { n: r.max_entries_per_user })),
      field("unit_code", "unit", { tag: "select", options: units.map((u) => h("option", { value: u.code }, u.name_ja)) }),
      field("day", "day", { type: "date", required: true, min: from, max: to, value: from }),
      field("slot_code", "slot", { tag: "select", options: f.slots.map((s) => h("option", { value: s.code }, `${s.label_ja}（${s.start.slice(0, 5)}〜${s.end.slice(0, 5)}）`)) }),
      submit("lottery_enter_submit"),
    ],
    async (values) => {
      await api(`/v1/lotteries/${r.id}/entries`, { method: "POST", idempotent: true, body: values });
      await done(notice(t("lottery_entered"), "success"));
    },
  );
}

function confirmForm(r, entry) {
  return apiForm(
    { "aria-label": t("lottery_confirm_title"), class: "inline" },
    [
      field("payment_method", "payment_method", {
        tag: "select",
        options: ["konbini", "payeasy", "counter"].map((m) => h("option", { value: m }, t(`method_${m}`))),
      }),
      submit("lottery_confirm_submit"),
    ],
    async (values) => {
      const reservation = await api(`/v1/lotteries/${r.id}/entries/${entry.id}/confirm`, { method: "POST", body: values });
      location.hash = `#/reservations/${reservation.id}`;
    },
  );
}

function withdrawButton(r, entry, done) {
  return h(
    "button",
    {
      type: "button",
      class: "secondary",
      onclick: async () => {
        await api(`/v1/lotteries/${r.id}/entries/${entry.id}/withdraw`, { method: "POST" });
        await done(notice(t("lottery_withdrawn"), "success"));
      },
    },
    t("lottery_withdraw"),
  );
}

function myEntries(r, f, entries, done) {
  return h(
    "section",
    { "aria-labelledby": "my-entries-title" },
    h("h2", { id: "my-entries-title" }, t("lottery_my_entries")),
    entries.length
      ? h(
          "ul",
          { class: "cards" },
          entries.map((entry) =>
            h(
              "li",
              { class: "entry", "data-status": entry.status },
              h("p", {}, entryLabel(entry, f)),
              h("p", { class: "entry-status" }, t(`entry_${entry.status}`)),
              entry.status === "won" && entry.confirm_by ? h("p", { class: "meta" }, t("lottery_confirm_by", { at: when(entry.confirm_by) })) : null,
              entry.status === "won" ? confirmForm(r, entry) : null,
              entry.status === "entered" && r.accepting_entries ? withdrawButton(r, entry, done) : null,
              entry.reservation_id ? h("a", { href: `#/reservations/${entry.reservation_id}` }, t("lottery_reservation")) : null,
            ),
          ),
        )
      : h("p", {}, t("none_yet")),
  );
}

async function round(main, id) {
  const load = async (message) => {
    const r = await api(`/v1/lotteries/${encodeURIComponent(id)}`);
    const f = await api(`/v1/facilities/${encodeURIComponent(r.facility_code)}`);
    const reg = session() ? await registration() : null;
    const entries = reg ? (await api(`/v1/lotteries/${r.id}/my-entries`, { query: { limit: 50 } })).items : [];
    const canEnter = r.accepting_entries && reg && reg.status === "approved";
    mount(
      main,
      h("h1", {}, r.title_ja),
      message || null,
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, t("facility")),
        h("dd", {}, h("a", { href: `#/facilities/${f.code}` }, localized(f, "name"))),
        h("dt", {}, t("status")),
        h("dd", { id: "round-status", "data-status": r.status }, t(`round_${r.status}`)),
        h("dt", {}, t("lottery_window")),
        h("dd", {}, `${when(r.opens_at)} – ${when(r.closes_at)}`),
        h("dt", {}, t("lottery_draw_at")),
        h("dd", {}, when(r.drawn_at || r.draw_at)),
        h("dt", {}, t("lottery_confirm_deadline")),
        h("dd", {}, when(r.confirm_by)),
        h("dt", {}, t("lottery_entry_count")),
        h("dd", {}, String(r.entry_count)),
        h("dt", {}, t("lottery_commitment")),
        h("dd", { class: "hash" }, r.commitment),
        r.seed ? [h("dt", {}, t("lottery_seed")), h("dd", { class: "hash" }, r.seed)] : null,
      ),
      !session()
        ? notice(t("login_to_enter"))
        : !reg
          ? registrationForm(() => load())
          : reg.status !== "approved"
            ? notice(t("facility_user_pending", { number: reg.user_number }))
            : null,
      canEnter ? entryForm(r, f, load) : null,
      reg ? myEntries(r, f, entries, load) : null,
    );
  };
  await load();
}

async function rounds(main) {
  const page = await api("/v1/lotteries", { query: { limit: 50 } });
  const citizen = session() && session().me?.kind !== "staff";
  const mine = {};
  const sites = {};
  if (citizen) {
    const lists = await Promise.all(page.items.map((r) => api(`/v1/lotteries/${r.id}/my-entries`, { query: { limit: 50 } })));
    page.items.forEach((r, i) => {
      mine[r.id] = lists[i].items;
    });
    const codes = [...new Set(page.items.filter((r) => mine[r.id].length).map((r) => r.facility_code))];
    const found = await Promise.all(codes.map((code) => api(`/v1/facilities/${encodeURIComponent(code)}`)));
    codes.forEach((code, i) => {
      sites[code] = found[i];
    });
  }
  mount(main, h("h1", {}, t("nav_lotteries")), page.items.length ? roundLinks(page.items, mine, sites) : h("p", {}, t("lottery_none")));
}

export const lotteryRoutes = [
  { pattern: /^\/lotteries$/, view: rounds },
  { pattern: /^\/lotteries\/(lot_[A-Za-z0-9]+)$/, view: round },
];
