// Facilities: search, the month availability grid, booking (with the fee voucher), my
// reservations and cancellation with the refund the facility's rules give.
import { ApiError, api, session } from "../api.js";
import { h, mount, yen } from "../dom.js";
import { localized, t } from "../i18n.js";
import { apiForm, field, notice, refreshWhile, requireLogin, submit, when } from "./common.js";
import { roundLinks } from "./lotteries.js";
import { voucher } from "./payment.js";

export function monthRange(month) {
  const [year, m] = month.split("-").map(Number);
  const last = new Date(Date.UTC(year, m, 0)).getUTCDate();
  return { from: `${month}-01`, to: `${month}-${String(last).padStart(2, "0")}` };
}

export function thisMonth() {
  return new Date().toLocaleDateString("sv-SE", { timeZone: "Asia/Tokyo" }).slice(0, 7);
}

async function facilities(main, params) {
  const page = await api("/v1/facilities", { query: { kind: params.get("kind"), limit: 100 } });
  mount(
    main,
    h("h1", {}, t("nav_facilities")),
    h(
      "ul",
      { class: "cards" },
      page.items.map((f) =>
        h(
          "li",
          {},
          h("h2", {}, h("a", { href: `#/facilities/${f.code}` }, localized(f, "name"))),
          h("p", {}, f.description_ja),
          h("p", { class: "meta" }, f.address_ja),
        ),
      ),
    ),
  );
}

function dayLabel(day) {
  const at = new Date(`${day}T12:00:00+09:00`);
  return at.toLocaleDateString(document.documentElement.lang === "en" ? "en-GB" : "ja-JP", {
    timeZone: "Asia/Tokyo",
    month: "short",
    day: "numeric",
    weekday: "short",
  });
}

const TAKEN = ["booked", "held"];

// The month grid: free cells book (`onPick`), taken ones join the waitlist (`onWait`).
export function availabilityGrid(availability, slots, onPick, onWait = null) {
  const labels = Object.fromEntries(slots.map((s) => [s.code, s.label_ja]));
  return h(
    "table",
    { class: "availability", tabindex: 0 },
    h("caption", {}, t("availability_caption")),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("day")), slots.map((s) => h("th", { scope: "col" }, s.label_ja)))),
    h(
      "tbody",
      {},
      availability.days.map((day) =>
        h(
          "tr",
          { class: day.closed ? "closed" : null },
          h("th", { scope: "row" }, h("time", { datetime: day.day }, dayLabel(day.day)), day.holiday_name ? ` ${day.holiday_name}` : ""),
          day.cells.map((cell) =>
            h(
              "td",
              { "data-state": cell.state, "data-day": day.day, "data-slot": cell.slot_code },
              cell.state === "free" && onPick
                ? h(
                    "button",
                    {
                      type: "button",
                      class: "slot",
                      "data-day": day.day,
                      "data-slot": cell.slot_code,
                      "aria-label": `${dayLabel(day.day)} ${labels[cell.slot_code]} ${t("state_free")} ${yen(cell.price)}`,
                      onclick: () => onPick(day.day, cell),
                    },
                    `○ ${yen(cell.price)}`,
                  )
                : TAKEN.includes(cell.state) && onWait
                  ? [
                      h("span", {}, t(`state_${cell.state}`)),
                      h(
                        "button",
                        {
                          type: "button",
                          class: "wait secondary",
                          "data-day": day.day,
                          "data-slot": cell.slot_code,
                          "aria-label": `${dayLabel(day.day)} ${labels[cell.slot_code]} ${t("waitlist_join")}`,
                          onclick: () => onWait(day.day, cell),
                        },
                        t("waitlist_join_short"),
                      ),
                    ]
                  : t(`state_${cell.state}`),
            ),
          ),
        ),
      ),
    ),
  );
}

export async function registration() {
  try {
    return await api("/v1/facility-users/me");
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}

export function registrationForm(done) {
  const me = session().me;
  return apiForm(
    { "aria-labelledby": "facility-user-title", class: "panel" },
    [
      h("h2", { id: "facility-user-title" }, t("facility_user_title")),
      h("p", {}, t("facility_user_intro")),
      field("name", "display_name", { required: true, value: me.account?.display_name || "" }),
      field("email", "email", { type: "email", required: true, value: me.account?.email || "" }),
      field("phone", "phone", { type: "tel", autocomplete: "tel" }),
      field("residency", "residency", {
        tag: "select",
        options: [
          ...["living", "working", "studying"].map((basis) => h("option", { value: basis }, t(`resident_${basis}`))),
          h("option", { value: "non_resident" }, t("non_resident")),
        ],
      }),
      submit("facility_user_submit"),
    ],
    async (values) => {
      await api("/v1/facility-users", {
        method: "POST",
        idempotent: true,
        body: {
          applicant_type: "individual",
          name: values.name,
          email: values.email,
          phone: values.phone || null,
          residency: values.residency === "non_resident" ? "non_resident" : "resident",
          residency_basis: values.residency === "non_resident" ? null : values.residency,
        },
      });
      await done();
    },
  );
}

async function facility(main, code, params) {
  const f = await api(`/v1/facilities/${encodeURIComponent(code)}`);
  const unitCode = params.get("unit") || f.units[0].code;
  const month = params.get("month") || thisMonth();
  const { from, to } = monthRange(month);
  const availability = await api(`/v1/facilities/${encodeURIComponent(code)}/availability`, { query: { unit: unitCode, from, to } });
  const booking = h("div", { id: "booking", "aria-live": "polite" });
  const reg = session() ? await registration() : null;
  const pick = (day, cell) => {
    const slot = f.slots.find((s) => s.code === cell.slot_code);
    mount(
      booking,
      apiForm(
        { "aria-labelledby": "book-title", class: "panel" },
        [
          h("h2", { id: "book-title" }, t("book_title")),
          h("p", {}, `${day} ${slot.label_ja}（${slot.start.slice(0, 5)}〜${slot.end.slice(0, 5)}）${yen(cell.price)}`),
          field("purpose", "purpose", { maxlength: 200 }),
          field("payment_method", "payment_method", {
            tag: "select",
            options: ["konbini", "payeasy", "counter"].map((m) => h("option", { value: m }, t(`method_${m}`))),
          }),
          submit("book_submit"),
        ],
        async (values) => {
          const r = await api("/v1/reservations", {
            method: "POST",
            idempotent: true,
            body: { facility_code: code, unit_code: unitCode, day, slot_code: cell.slot_code, purpose: values.purpose, payment_method: values.payment_method },
          });
          location.hash = `#/reservations/${r.id}`;
        },
      ),
    );
    booking.querySelector("input, select")?.focus();
  };
  const wait = (day, cell) => {
    const slot = f.slots.find((s) => s.code === cell.slot_code);
    mount(
      booking,
      apiForm(
        { "aria-labelledby": "wait-title", class: "panel" },
        [
          h("h2", { id: "wait-title" }, t("waitlist_title")),
          h("p", {}, `${day} ${slot.label_ja}（${slot.start.slice(0, 5)}〜${slot.end.slice(0, 5)}）`),
          h("p", { class: "hint" }, t("waitlist_intro")),
          submit("waitlist_submit"),
        ],
        async () => {
          await api("/v1/reservations/waitlist", {
            method: "POST",
            idempotent: true,
            body: { facility_code: code, unit_code: unitCode, day, slot_code: cell.slot_code },
          });
          location.hash = "#/reservations";
        },
      ),
    );
    booking.querySelector("button")?.focus();
  };
  const unitForm = h(
    "form",
    { class: "inline", action: "", "aria-label": t("choose_unit") },
    field("unit", "unit", { tag: "select", options: f.units.map((u) => h("option", { value: u.code, selected: u.code === unitCode }, `${u.name_ja}（${t("capacity", { n: u.capacity })}）`)) }),
    field("month", "month", { type: "month", value: month }),
    submit("show"),
  );
  unitForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(unitForm);
    location.hash = `#/facilities/${code}?unit=${data.get("unit")}&month=${data.get("month")}`;
  });
  const canBook = reg && reg.status === "approved";
  const rounds = await api("/v1/lotteries", { query: { facility_code: code, limit: 20 } });
  mount(
    main,
    h("h1", {}, localized(f, "name")),
    h("p", {}, f.description_ja),
    h("p", { class: "meta" }, f.address_ja, " · ", f.fee_note_ja || ""),
    unitForm,
    !session()
      ? notice(t("login_to_book"))
      : !reg
        ? registrationForm(() => facility(main, code, params))
        : reg.status !== "approved"
          ? notice(t("facility_user_pending", { number: reg.user_number }))
          : null,
    roundLinks(rounds.items),
    availabilityGrid(availability, f.slots, canBook ? pick : null, canBook ? wait : null),
    booking,
  );
}

// キャンセル待ち: waiting (with the place in the queue), or offered: the slot is held for the
// user until the offer expires, to take as a booking or to let go to the next in line.
function waitlistEntry(entry, names, reload) {
  const site = names[entry.facility_code];
  const unit = site?.units.find((u) => u.code === entry.unit_code);
  const slot = site?.slots.find((s) => s.code === entry.slot_code);
  const what = `${entry.day} ${site ? localized(site, "name") : entry.facility_code} ${unit ? localized(unit, "name") : entry.unit_code} ${slot?.label_ja || entry.slot_code}`;
  const status =
    entry.status === "waiting"
      ? t("waitlist_waiting", { position: entry.position })
      : entry.status === "offered"
        ? t("waitlist_offered", { until: when(entry.offer_expires_at) })
        : t(`waitlist_${entry.status}`);
  const titleId = `wait-${entry.id}`;
  const accept =
    entry.status === "offered"
      ? apiForm(
          { class: "inline", "aria-labelledby": titleId },
          [
            field("payment_method", "payment_method", {
              tag: "select",
              options: ["konbini", "payeasy", "counter"].map((m) => h("option", { value: m }, t(`method_${m}`))),
            }),
            submit("waitlist_accept"),
          ],
          async (values) => {
            const r = await api(`/v1/reservations/waitlist/${entry.id}/accept`, { method: "POST", body: { payment_method: values.payment_method } });
            location.hash = `#/reservations/${r.id}`;
          },
        )
      : null;
  const leave = ["waiting", "offered"].includes(entry.status)
    ? h(
        "button",
        {
          type: "button",
          class: "secondary",
          onclick: async () => {
            await api(`/v1/reservations/waitlist/${entry.id}/leave`, { method: "POST" });
            await reload();
          },
        },
        t("waitlist_leave"),
      )
    : null;
  return h(
    "li",
    { class: "waitlist-entry", "data-status": entry.status },
    h("p", { id: titleId }, h("strong", {}, what), " ", h("span", { class: "wait-status" }, status)),
    accept,
    entry.reservation_id ? h("p", {}, h("a", { href: `#/reservations/${entry.reservation_id}` }, t("see_reservation"))) : null,
    leave,
  );
}

async function reservations(main) {
  if (!session()) return requireLogin(main);
  const load = async () => {
    const [page, waiting] = await Promise.all([api("/v1/reservations", { query: { limit: 50 } }), api("/v1/reservations/waitlist", { query: { limit: 50 } })]);
    const codes = [...new Set(waiting.items.map((w) => w.facility_code))];
    const found = await Promise.all(codes.map((c) => api(`/v1/facilities/${encodeURIComponent(c)}`)));
    const names = Object.fromEntries(found.map((f) => [f.code, f]));
    mount(
      main,
      h("h1", {}, t("nav_my_reservations")),
      page.items.length
        ? h(
            "ul",
            { class: "cards" },
            page.items.map((r) =>
              h("li", {}, h("a", { href: `#/reservations/${r.id}` }, `${r.day} ${r.facility_code} ${r.unit_code} ${r.slot_code}`), " ", t(`reservation_${r.status}`)),
            ),
          )
        : h("p", {}, t("none_yet")),
      h(
        "section",
        { "aria-labelledby": "waitlist-title" },
        h("h2", { id: "waitlist-title" }, t("waitlist_mine")),
        waiting.items.length ? h("ul", { class: "cards waitlist" }, waiting.items.map((w) => waitlistEntry(w, names, load))) : h("p", {}, t("none_yet")),
      ),
    );
  };
  await load();
}

async function reservation(main, id) {
  if (!session()) return requireLogin(main);
  let status = null;
  let preparing = false;
  const load = async (message) => {
    const r = await api(`/v1/reservations/${encodeURIComponent(id)}`);
    status = r.status;
    const details = r.payment_details || {};
    // The fee's slip is made at payments_mock just after the booking: it shows up shortly.
    const wasPreparing = preparing;
    preparing = r.status === "held" && ["konbini", "payeasy"].includes(r.payment_method) && !details.konbini && !details.payeasy;
    const cancel = apiForm(
      { "aria-labelledby": "cancel-title", class: "panel" },
      [h("h2", { id: "cancel-title" }, t("cancel_title")), field("reason", "cancel_reason", { maxlength: 200 }), submit("cancel_submit")],
      async (values) => {
        const cancelled = await api(`/v1/reservations/${r.id}/cancel`, { method: "POST", body: { reason: values.reason || "" } });
        await load(notice(t("cancelled_refund", { percent: cancelled.refund_percent ?? 0, amount: yen(cancelled.refund_amount ?? 0) }), "success"));
      },
    );
    mount(
      main,
      h("h1", {}, t("reservation_title")),
      message || null,
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, t("status")),
        h("dd", { id: "reservation-status", "data-status": r.status }, t(`reservation_${r.status}`)),
        h("dt", {}, t("when")),
        h("dd", {}, `${when(r.starts_at)} – ${when(r.ends_at)}`),
        h("dt", {}, t("fee")),
        h("dd", {}, `${yen(r.fee.amount)}（${t("fictional")}）`),
        r.hold_expires_at ? [h("dt", {}, t("hold_expires")), h("dd", {}, when(r.hold_expires_at))] : null,
        r.refund_amount !== null && r.refund_amount !== undefined ? [h("dt", {}, t("refund")), h("dd", { id: "refund" }, `${yen(r.refund_amount)}（${r.refund_percent}%）`)] : null,
      ),
      preparing ? notice(t("voucher_preparing")) : null,
      r.status === "held" ? voucher(details, () => refreshWhile(() => status === "held", load)) : null,
      r.allowed_transitions.includes("cancel") ? cancel : null,
    );
    if (preparing && !wasPreparing) refreshWhile(() => preparing, load);
  };
  await load();
}

export const facilityRoutes = [
  { pattern: /^\/facilities$/, view: facilities },
  { pattern: /^\/facilities\/([a-z0-9-]+)$/, view: facility },
  { pattern: /^\/reservations$/, view: reservations },
  { pattern: /^\/reservations\/([A-Za-z0-9_]+)$/, view: reservation },
];
