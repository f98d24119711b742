// Staff pages: TOTP login, the department queue and review, the alert composer with its
// second approver, and the audit log with chain verification (auditors).
import { api, session, token } from "../api.js";
import { h, mount } from "../dom.js";
import { localized, t } from "../i18n.js";
import { apiForm, dataTable, field, notice, submit, when } from "./common.js";
import { staffFacilitiesView } from "./staff_facilities.js";

const ACTIONS = ["start-review", "request-approval", "approve", "reject", "send-back", "complete"];

function staffOnly(main) {
  const me = session()?.me;
  if (!me || me.kind !== "staff") {
    mount(main, h("h1", {}, t("login_required")), h("p", {}, h("a", { href: "#/staff/login" }, t("nav_staff_login"))));
    return false;
  }
  return true;
}

async function staffLogin(main) {
  const form = apiForm(
    { "aria-labelledby": "staff-login-title" },
    [
      field("username", "email", { type: "email", required: true, autocomplete: "username" }),
      field("password", "password", { type: "password", required: true, autocomplete: "current-password" }),
      field("totp", "totp_code", { required: true, inputmode: "numeric", autocomplete: "one-time-code", pattern: "[0-9]{6}", hint: "totp_hint" }),
      submit("login_submit"),
    ],
    async (values) => {
      await token({ grant_type: "password", ...values });
      window.dispatchEvent(new Event("portal:session"));
      location.hash = "#/staff/queue";
    },
  );
  mount(main, h("h1", { id: "staff-login-title" }, t("staff_login_title")), form);
}

async function queue(main) {
  if (!staffOnly(main)) return;
  const page = await api("/v1/applications/queue", { query: { limit: 100 } });
  mount(
    main,
    h("h1", {}, t("nav_queue")),
    page.items.length
      ? dataTable(
          t("queue_caption", { department: session().me.department || "" }),
          ["reference", "procedure", "status", "due_on"],
          page.items,
          (item) => [
            h("a", { href: `#/staff/applications/${item.id}` }, item.reference || item.id),
            item.procedure_code,
            t(`status_${item.status}`),
            [item.due_on || "—", item.overdue ? ` ${t("overdue")}` : ""],
          ],
          (item) => ({ class: item.overdue ? "overdue" : null }),
        )
      : h("p", {}, t("queue_empty")),
  );
}

function returnForm(application, reload) {
  const fields = Object.keys(application.form || {});
  const deadline = new Date(Date.now() + 14 * 86_400_000).toISOString().slice(0, 10);
  return apiForm(
    { "aria-labelledby": "return-title", class: "panel" },
    [
      h("h2", { id: "return-title" }, t("return_title")),
      h(
        "fieldset",
        { class: "field", "data-field": "fields" },
        h("legend", {}, t("return_fields")),
        fields.map((name) =>
          h("div", { class: "check" }, h("input", { type: "checkbox", name: "fields", value: `/${name}`, id: `ret-${name}` }), h("label", { for: `ret-${name}` }, name)),
        ),
        h("p", { class: "error" }),
      ),
      field("message", "return_message", { tag: "textarea", required: true, rows: 3 }),
      field("deadline", "return_deadline", { type: "date", required: true, value: deadline }),
      submit("return_submit"),
    ],
    async (values, form) => {
      const chosen = new FormData(form).getAll("fields");
      await api(`/v1/applications/${application.id}/return`, {
        method: "POST",
        body: { fields: chosen, message: values.message, deadline: values.deadline },
      });
      await reload();
    },
  );
}

async function review(main, id) {
  if (!staffOnly(main)) return;
  const load = async (message) => {
    const a = await api(`/v1/applications/${encodeURIComponent(id)}`);
    const allowed = new Set(a.allowed_transitions || []);
    const buttons = ACTIONS.filter((action) => allowed.has(action.replace("-", "_"))).map((action) =>
      h(
        "button",
        {
          type: "button",
          "data-action": action,
          onclick: async () => {
            try {
              await api(`/v1/applications/${a.id}/${action}`, { method: "POST", body: {} });
              await load(notice(t("action_done", { action: t(`action_${action}`) }), "success"));
            } catch (error) {
              await load(notice(error.message, "error"));
            }
          },
        },
        t(`action_${action}`),
      ),
    );
    mount(
      main,
      h("h1", {}, localized(a, "procedure_name"), " ", a.reference || ""),
      message || null,
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, t("status")),
        h("dd", { id: "application-status", "data-status": a.status }, t(`status_${a.status}`)),
        h("dt", {}, t("due_on")),
        h("dd", {}, a.due_on || "—"),
        a.approval_requested_by ? [h("dt", {}, t("approval_requested_by")), h("dd", {}, a.approval_requested_by)] : null,
      ),
      h("section", { "aria-labelledby": "form-title" }, h("h2", { id: "form-title" }, t("submitted_form")),
        h("dl", { class: "facts" }, Object.entries(a.form || {}).map(([k, v]) => [h("dt", {}, k), h("dd", {}, typeof v === "object" ? JSON.stringify(v) : String(v))]))),
      h("div", { class: "actions" }, buttons),
      allowed.has("return") ? returnForm(a, () => load(notice(t("returned_done"), "success"))) : null,
    );
  };
  await load();
}

function alertComposer(reload) {
  const expires = new Date(Date.now() + 6 * 3_600_000);
  const local = new Date(expires.getTime() - expires.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
  const option = (value, key) => h("option", { value }, t(key));
  return apiForm(
    { "aria-labelledby": "compose-title", class: "panel" },
    [
      h("h2", { id: "compose-title" }, t("compose_title")),
      field("category", "category", { tag: "select", required: true, options: [option("disaster", "category_disaster"), option("weather", "category_weather"), option("suspicious-person", "category_suspicious")] }),
      field("district", "district", { tag: "select", options: [option("", "city_wide"), option("chuo", "district_chuo"), option("hokubu", "district_hokubu"), option("nanbu", "district_nanbu"), option("tobu", "district_tobu"), option("seibu", "district_seibu")] }),
      field("severity", "severity", { tag: "select", options: ["Extreme", "Severe", "Moderate", "Minor"].map((s) => option(s, `severity_${s}`)) }),
      field("headline", "headline", { required: true, maxlength: 200 }),
      field("body", "alert_body", { tag: "textarea", required: true, rows: 4 }),
      field("expires_at", "expires_at", { type: "datetime-local", required: true, value: local }),
      submit("compose_submit"),
    ],
    async (values) => {
      const draft = await api("/v1/alerts", {
        method: "POST",
        idempotent: true,
        body: {
          category: values.category,
          districts: values.district ? [values.district] : [],
          severity: values.severity,
          urgency: "Immediate",
          certainty: "Observed",
          content: { ja: { headline: values.headline, body: values.body } },
          expires_at: new Date(values.expires_at).toISOString(),
        },
      });
      await api(`/v1/alerts/${draft.id}/submit`, { method: "POST" });
      await reload(notice(t("alert_submitted"), "success"));
    },
  );
}

async function alerts(main) {
  if (!staffOnly(main)) return;
  const load = async (message) => {
    const page = await api("/v1/alerts", { query: { limit: 50 } });
    const me = session().me;
    mount(
      main,
      h("h1", {}, t("nav_alert_composer")),
      message || null,
      me.roles.includes("alert_publisher") ? alertComposer(load) : null,
      h(
        "section",
        { "aria-labelledby": "alerts-list" },
        h("h2", { id: "alerts-list" }, t("alerts_list")),
        h(
          "ul",
          { class: "cards" },
          page.items.map((a) =>
            h(
              "li",
              { "data-alert-id": a.id },
              h("h3", {}, (a.content.ja || Object.values(a.content)[0]).headline),
              h("p", { class: "meta" }, t(`alert_status_${a.status}`), " · ", when(a.created_at), a.recipients ? ` · ${t("recipients", { n: a.recipients })}` : ""),
              a.allowed_transitions.includes("approve") && a.created_by !== me.sub
                ? h(
                    "button",
                    {
                      type: "button",
                      onclick: async () => {
                        try {
                          const approved = await api(`/v1/alerts/${a.id}/approve`, { method: "POST" });
                          await load(notice(t("alert_approved", { n: approved.recipients ?? 0 }), "success"));
                        } catch (error) {
                          await load(notice(error.message, "error"));
                        }
                      },
                    },
                    t("alert_approve"),
                  )
                : null,
            ),
          ),
        ),
      ),
    );
  };
  await load();
}

function shown(value) {
  if (value === null || value === undefined) return "";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

async function audit(main) {
  if (!staffOnly(main)) return;
  const result = h("div", { "aria-live": "polite" });
  const verify = h(
    "button",
    {
      type: "button",
      onclick: async () => {
        try {
          const v = await api("/audit/verify");
          mount(result, notice(v.ok ? t("chain_ok", { events: v.events, checkpoints: v.checkpoints }) : t("chain_broken", { seq: v.first_bad_seq, reason: v.reason }), v.ok ? "success" : "error"));
        } catch (error) {
          mount(result, notice(error.message, "error"));
        }
      },
    },
    t("chain_verify"),
  );
  let events = null;
  try {
    events = await api("/audit/events", { query: { limit: 50 } });
  } catch (error) {
    mount(main, h("h1", {}, t("nav_audit")), notice(error.message, "error"));
    return;
  }
  mount(
    main,
    h("h1", {}, t("nav_audit")),
    verify,
    result,
    dataTable(
      t("audit_latest"),
      ["audit_seq", "audit_time", "audit_actor", "audit_action", "audit_target"],
      events.items,
      ({ seq, event }) => [seq, when(event.occurred_at), event.actor, event.action, event.target].map(shown),
    ),
  );
}

export const staffRoutes = [
  { pattern: /^\/staff\/login$/, view: staffLogin },
  { pattern: /^\/staff\/queue$/, view: queue },
  { pattern: /^\/staff\/applications\/([A-Za-z0-9_]+)$/, view: review },
  { pattern: /^\/staff\/alerts$/, view: alerts },
  { pattern: /^\/staff\/facilities$/, view: (main) => (staffOnly(main) ? staffFacilitiesView(main) : null) },
  { pattern: /^\/staff\/audit$/, view: audit },
];
