// Citizen pages: account, procedure catalogue and forms, my applications, fees, alerts.
import { ApiError, api, apiBlob, cardLogin, logout, session, token } from "../api.js";
import { readCard } from "../jpki.js";
import { h, mount, yen } from "../dom.js";
import { localized, t } from "../i18n.js";
import { clearErrors, collect, fill, markForCorrection, renderSchemaForm, showErrors } from "../schema_form.js";
import { apiForm, dataTable, field, notice, refreshWhile, requireLogin, submit, when } from "./common.js";
import { paymentPanel } from "./payment.js";
import { subscribeView } from "./subscribe.js";

// The card file chosen in `form`; one that cannot be read is an error on its field.
async function cardFrom(form) {
  try {
    return await readCard(form.querySelector("input[type=file]").files[0]);
  } catch {
    const message = t("card_file_invalid");
    throw new ApiError(422, { detail: message, errors: [{ field: "card", message }] });
  }
}

function signedIn() {
  window.dispatchEvent(new Event("portal:session"));
}

async function home(main) {
  const me = session()?.me;
  mount(
    main,
    h("h1", {}, t("home_title")),
    me ? h("p", { id: "welcome" }, t("welcome", { name: me.account?.display_name || me.sub }), me.acr === "jpki" ? ` ${t("signed_in_with_card")}` : "") : null,
    h("p", {}, t("home_intro")),
    h(
      "ul",
      { class: "tiles" },
      [
        ["#/procedures", "nav_procedures", "tile_procedures"],
        ["#/facilities", "nav_facilities", "tile_facilities"],
        ["#/alerts", "nav_alerts", "tile_alerts"],
      ].map(([href, title, text]) => h("li", {}, h("a", { href }, h("strong", {}, t(title)), h("span", {}, t(text))))),
    ),
  );
}

async function register(main) {
  const done = h("div");
  const form = apiForm(
    { "aria-labelledby": "register-title" },
    [
      field("display_name", "display_name", { required: true, autocomplete: "name" }),
      field("email", "email", { type: "email", required: true, autocomplete: "email" }),
      field("password", "password", { type: "password", required: true, autocomplete: "new-password", hint: "password_hint" }),
      submit("register_submit"),
    ],
    async (values) => {
      await api("/auth/register", { method: "POST", body: { ...values, kind: "citizen" } });
      form.hidden = true;
      mount(done, notice(t("register_sent", { email: values.email })));
    },
  );
  mount(main, h("h1", { id: "register-title" }, t("register_title")), form, done);
}

async function login(main) {
  const password = apiForm(
    { "aria-labelledby": "login-password" },
    [
      h("h2", { id: "login-password" }, t("login_password")),
      field("username", "email", { type: "email", required: true, autocomplete: "username" }),
      field("password", "password", { type: "password", required: true, autocomplete: "current-password" }),
      submit("login_submit"),
    ],
    async (values) => {
      await token({ grant_type: "password", ...values });
      signedIn();
      location.hash = "#/applications";
    },
  );
  const linkSent = h("div");
  const emailLink = apiForm(
    { "aria-labelledby": "login-email" },
    [
      h("h2", { id: "login-email" }, t("login_email_link")),
      h("p", {}, t("login_email_link_intro")),
      field("email", "email", { type: "email", required: true, autocomplete: "email" }),
      submit("login_email_link_send"),
      linkSent,
    ],
    async (values) => {
      await api("/auth/email-login", { method: "POST", body: values });
      mount(linkSent, notice(t("login_email_link_sent")));
    },
  );
  const useLink = apiForm(
    { "aria-labelledby": "login-email-use" },
    [
      h("h2", { id: "login-email-use" }, t("login_email_link_use")),
      field("link", "login_email_link_field", { required: true, hint: "login_email_link_hint" }),
      submit("login_submit"),
    ],
    async (values) => {
      const linkToken = new URL(values.link, location.origin).searchParams.get("token") || values.link;
      await token({ grant_type: "urn:cityhall:params:oauth:grant-type:email-link", link_token: linkToken });
      signedIn();
      location.hash = "#/applications";
    },
  );
  const card = apiForm(
    { "aria-labelledby": "login-card" },
    [
      h("h2", { id: "login-card" }, t("login_card")),
      h("p", {}, t("login_card_intro")),
      field("card", "card_file", { type: "file", required: true, accept: ".json,.pem,.txt" }),
      submit("login_submit"),
    ],
    async (_values, form) => {
      await cardLogin(await cardFrom(form));
      signedIn();
      location.hash = "#/applications";
    },
  );
  mount(main, h("h1", {}, t("login_title")), password, card, emailLink, useLink);
}

async function signOut() {
  await logout();
  signedIn();
  location.hash = "#/";
}

async function procedures(main, params) {
  const results = h("div", { "aria-live": "polite" });
  const search = async (q) => {
    const page = await api("/v1/procedures", { query: { q, limit: 100 } });
    mount(
      results,
      h("p", {}, t("results_count", { count: page.items.length })),
      h(
        "ul",
        { class: "cards" },
        page.items.map((p) =>
          h(
            "li",
            {},
            h("h2", {}, h("a", { href: `#/procedures/${p.code}` }, localized(p, "name"))),
            h("p", {}, localized(p, "description")),
            h("p", { class: "meta" }, p.category_ja, " · ", t(`assurance_${p.assurance}`), p.has_fee ? ` · ${t("has_fee")}` : ""),
          ),
        ),
      ),
    );
  };
  const form = apiForm(
    { role: "search" },
    [field("q", "search_procedures", { type: "search", value: params.get("q") || "" }), submit("search")],
    async (values) => search(values.q),
  );
  mount(main, h("h1", {}, t("nav_procedures")), form, results);
  await search(params.get("q") || "");
}

async function procedure(main, code) {
  const p = await api(`/v1/procedures/${encodeURIComponent(code)}`);
  const schemaForm = renderSchemaForm(p.form_schema);
  const form = h("form", { novalidate: true, "aria-labelledby": "procedure-title" }, schemaForm, submit("apply_submit"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    if (!session()) {
      showErrors(form, { message: t("login_required"), fields: {} });
      return;
    }
    try {
      const created = await api("/v1/applications", {
        method: "POST",
        idempotent: true,
        body: { procedure_code: p.code, form: collect(schemaForm), locale: document.documentElement.lang, submit: !p.signature_required },
      });
      location.hash = `#/applications/${created.id}`;
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      showErrors(form, error);
    }
  });
  mount(
    main,
    h("h1", { id: "procedure-title" }, localized(p, "name")),
    h("p", {}, localized(p, "description")),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, t("assurance")),
      h("dd", {}, t(`assurance_${p.assurance}`)),
      p.fee_yen ? [h("dt", {}, t("fee")), h("dd", {}, `${yen(p.fee_yen)}（${t("fictional")}）`)] : null,
      p.standard_processing_days ? [h("dt", {}, t("processing_days")), h("dd", {}, t("days", { n: p.standard_processing_days }))] : null,
    ),
    session() ? null : notice(t("login_to_apply")),
    form,
  );
}

// A filing that needs a My Number card signature: the card signs the payload the service
// gives for this draft, and the signature goes with the submission.
function signingForm(application, reload) {
  return apiForm(
    { "aria-labelledby": "sign-title", class: "panel" },
    [
      h("h2", { id: "sign-title" }, t("sign_title")),
      h("p", {}, t("sign_intro")),
      field("card", "card_file", { type: "file", required: true, accept: ".json,.pem,.txt" }),
      submit("sign_submit"),
    ],
    async (_values, form) => {
      const card = await cardFrom(form);
      const { payload } = await api(`/v1/applications/${application.id}/signing-payload`);
      const signature = { certificate: card.certificate, signature: await card.sign(payload) };
      await api(`/v1/applications/${application.id}/submit`, { method: "POST", body: { signature } });
      await reload();
    },
  );
}

// A returned application: the form as sent, the fields to correct marked, then resubmitted
// (with a fresh card signature when the procedure needs one).
function correctionForm(application, procedureInfo, reload) {
  const schemaForm = renderSchemaForm(procedureInfo.form_schema);
  fill(schemaForm, application.form);
  markForCorrection(schemaForm, application.correction?.fields || [], t("please_correct"));
  const card = procedureInfo.signature_required ? field("card", "card_file", { type: "file", required: true, accept: ".json,.pem,.txt" }) : null;
  const form = h("form", { novalidate: true, "aria-labelledby": "resubmit-title", class: "panel" }, h("h2", { id: "resubmit-title" }, t("resubmit_title")), schemaForm, card, submit("resubmit_submit"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    try {
      await api(`/v1/applications/${application.id}`, { method: "PATCH", body: { form: collect(schemaForm) } });
      let signature = null;
      if (card) {
        const loaded = await cardFrom(form);
        const { payload } = await api(`/v1/applications/${application.id}/signing-payload`);
        signature = { certificate: loaded.certificate, signature: await loaded.sign(payload) };
      }
      await api(`/v1/applications/${application.id}/resubmit`, { method: "POST", body: { signature } });
      await reload();
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      showErrors(form, error);
    }
  });
  return form;
}

// An issued document (交付): the rendered certificate comes as HTML and as PDF, so the
// button names the format and the saved file gets its extension.
const DOCUMENT_FORMATS = { "application/pdf": ["PDF", ".pdf"], "text/html": ["HTML", ".html"] };

function documentButton(application, document_) {
  const [format, extension] = DOCUMENT_FORMATS[document_.media_type.split(";")[0].trim()] || [null, ""];
  const title = document_.title || document_.filename || document_.id;
  const filename = document_.filename || document_.id;
  const open = async () => {
    const blob = await apiBlob(`/v1/applications/${application.id}/attachments/${document_.id}`);
    const link = h("a", { href: URL.createObjectURL(blob), download: filename.endsWith(extension) ? filename : `${filename}${extension}` });
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
  };
  const name = format ? t("document_format", { title, format }) : title;
  return h("button", { type: "button", class: "secondary", "data-media-type": document_.media_type, onclick: open }, t("download", { name }));
}

async function myApplications(main) {
  if (!session()) return requireLogin(main);
  const page = await api("/v1/applications/mine", { query: { limit: 50 } });
  mount(
    main,
    h("h1", {}, t("nav_my_applications")),
    page.items.length
      ? dataTable(t("nav_my_applications"), ["reference", "procedure", "status", "updated"], page.items, (a) => [
          h("a", { href: `#/applications/${a.id}` }, a.reference || a.id),
          a.procedure_code,
          t(`status_${a.status}`),
          when(a.updated_at),
        ])
      : h("p", {}, t("none_yet")),
  );
}

async function application(main, id) {
  if (!session()) return requireLogin(main);
  let current = null;
  let settling = false;
  const load = async () => {
    current = await api(`/v1/applications/${encodeURIComponent(id)}`);
    const history = await api(`/v1/applications/${encodeURIComponent(id)}/history`, { query: { limit: 100 } });
    const procedureInfo = await api(`/v1/procedures/${encodeURIComponent(current.procedure_code)}`);
    mount(
      main,
      h("h1", {}, localized(current, "procedure_name")),
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, t("reference")),
        h("dd", {}, current.reference || "—"),
        h("dt", {}, t("status")),
        h("dd", { id: "application-status", "data-status": current.status }, t(`status_${current.status}`)),
        current.signature ? [h("dt", {}, t("signature")), h("dd", { id: "signature" }, t("signed_with_card"))] : null,
      ),
      current.status === "completed" ? notice(t("application_completed"), "success") : null,
      current.status === "draft" && procedureInfo.signature_required ? signingForm(current, load) : null,
      current.correction
        ? h(
            "section",
            { class: "notice warning", "aria-labelledby": "correction-title" },
            h("h2", { id: "correction-title" }, t("correction_requested")),
            h("p", {}, current.correction.message),
            h("p", {}, t("correction_fields"), " ", current.correction.fields.join(", ")),
            h("p", {}, t("correction_deadline"), " ", current.correction.deadline),
          )
        : null,
      current.status === "returned" ? correctionForm(current, procedureInfo, load) : null,
      paymentPanel(current, procedureInfo, async (receipt) => {
        if (receipt) {
          settling = true;
          refreshWhile(() => settling && current.status !== "completed", load);
        } else {
          await load();
        }
      }),
      current.documents?.length
        ? h(
            "section",
            { "aria-labelledby": "documents-title" },
            h("h2", { id: "documents-title" }, t("issued_documents")),
            h("ul", {}, current.documents.map((d) => h("li", {}, documentButton(current, d)))),
          )
        : null,
      h(
        "section",
        { "aria-labelledby": "history-title" },
        h("h2", { id: "history-title" }, t("history")),
        h("ol", { class: "history" }, history.items.map((e) => h("li", {}, when(e.at), " ", t(`status_${e.to_status}`), e.comment ? ` — ${e.comment}` : ""))),
      ),
    );
  };
  await load();
}

export const citizenRoutes = [
  { pattern: /^\/$/, view: home },
  { pattern: /^\/register$/, view: register },
  { pattern: /^\/login$/, view: login },
  { pattern: /^\/logout$/, view: signOut },
  { pattern: /^\/procedures$/, view: procedures },
  { pattern: /^\/procedures\/([a-z0-9-]+)$/, view: procedure },
  { pattern: /^\/applications$/, view: myApplications },
  { pattern: /^\/applications\/([A-Za-z0-9_]+)$/, view: application },
  { pattern: /^\/alerts$/, view: subscribeView },
];
