// Fees: choose a method, then the voucher (konbini barcode and store numbers, Pay-easy
// numbers) and the simulated register, which pays through payments_mock's simulation API.
import { api } from "../api.js";
import { h, yen } from "../dom.js";
import { t } from "../i18n.js";
import { apiForm, field, notice, submit } from "./common.js";

// The simulated register answers with the payer's receipt; the form gives way to it.
async function payAtRegister(register, slip, form, onPaid) {
  const receipt = await api(`/sim/registers/${register}`, { method: "POST", body: slip });
  form.replaceWith(notice(t("store_receipt", { amount: yen(receipt.amount), via: receipt.paid_via }), "success"));
  onPaid(receipt);
}

// The voucher's drawn GS1-128 barcode: payments_mock serves it beside the voucher page, with
// the same token (the path of `voucher_url` plus `/barcode.svg`).
function barcodeImage(konbini) {
  const url = new URL(konbini.voucher_url, location.href);
  url.pathname += "/barcode.svg";
  return h("img", { class: "barcode-image", src: url.href, alt: t("barcode_image_alt"), width: 308, height: 50 });
}

const CHAINS = ["seven_eleven", "lawson", "familymart", "ministop", "dailyyamazaki", "seicomart"];

function konbiniVoucher(konbini, onPaid) {
  const simulate = apiForm(
    { class: "simulation", "aria-labelledby": "simulate-konbini" },
    [
      h("h3", { id: "simulate-konbini" }, t("simulate_store_title")),
      h("p", { class: "hint" }, t("simulate_store_hint")),
      field("chain", "store_chain", {
        tag: "select",
        required: true,
        options: CHAINS.map((chain) => h("option", { value: chain }, t(`chain_${chain}`))),
      }),
      submit("simulate_store_pay"),
    ],
    (values) => payAtRegister("konbini", { chain: values.chain, barcode: konbini.barcode }, simulate, onPaid),
  );
  return h(
    "section",
    { class: "voucher", "aria-labelledby": "voucher-konbini" },
    h("h3", { id: "voucher-konbini" }, t("voucher_konbini")),
    h("p", {}, t("pay_by", { deadline: konbini.deadline_ja })),
    h("p", { class: "barcode-figure" }, barcodeImage(konbini)),
    h("p", { class: "barcode", "aria-label": t("barcode") }, konbini.barcode_human_readable),
    h("p", {}, h("a", { href: konbini.voucher_url, target: "_blank", rel: "noopener" }, t("voucher_print"))),
    h(
      "table",
      { tabindex: 0 },
      h("caption", {}, t("store_numbers")),
      h("thead", {}, h("tr", {}, [t("store"), t("number"), t("confirmation")].map((x) => h("th", { scope: "col" }, x)))),
      h(
        "tbody",
        {},
        konbini.stores.map((s) =>
          h(
            "tr",
            {},
            h("th", { scope: "row" }, s.chain_name),
            h("td", {}, `${s.payment_code_label}: ${s.payment_code}`),
            h("td", {}, s.confirmation_number ? `${s.confirmation_label}: ${s.confirmation_number}` : "—"),
          ),
        ),
      ),
    ),
    simulate,
  );
}

function payeasyVoucher(payeasy, onPaid) {
  const simulate = apiForm(
    { class: "simulation", "aria-labelledby": "simulate-payeasy" },
    [h("h3", { id: "simulate-payeasy" }, t("simulate_payeasy_title")), submit("simulate_payeasy_pay")],
    () => {
      const { institution_number, customer_number, confirmation_number } = payeasy;
      const slip = { institution_number, customer_number, confirmation_number, channel: "atm" };
      return payAtRegister("payeasy", slip, simulate, onPaid);
    },
  );
  return h(
    "section",
    { class: "voucher", "aria-labelledby": "voucher-payeasy" },
    h("h3", { id: "voucher-payeasy" }, t("voucher_payeasy")),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, t("institution_number")),
      h("dd", { class: "number" }, payeasy.institution_number),
      h("dt", {}, t("customer_number")),
      h("dd", { class: "number" }, payeasy.customer_number),
      h("dt", {}, t("confirmation_number")),
      h("dd", { class: "number" }, payeasy.confirmation_number),
    ),
    simulate,
  );
}

export function voucher(instructions, onPaid) {
  if (!instructions) return null;
  return [
    instructions.konbini ? konbiniVoucher(instructions.konbini, onPaid) : null,
    instructions.payeasy ? payeasyVoucher(instructions.payeasy, onPaid) : null,
  ];
}

// An application's fee: due → choose a method; pending → the voucher; paid → a receipt line.
export function paymentPanel(application, procedure, onPaid) {
  const payment = application.payment;
  if (!payment || payment.status === "not_required") return null;
  const heading = h("h2", { id: "payment-title" }, t("fee_payment"));
  const amount = h("p", {}, t("amount_due", { amount: yen(payment.amount_yen) }), `（${t("fictional")}）`);
  if (payment.status === "due") {
    const methods = procedure.payment_methods.filter((m) => m !== "card");
    const choose = apiForm(
      { "aria-labelledby": "payment-title" },
      [
        h(
          "fieldset",
          {},
          h("legend", {}, t("payment_method")),
          methods.map((method, i) =>
            h(
              "div",
              { class: "field check" },
              h("input", { type: "radio", name: "method", value: method, id: `method-${method}`, checked: i === 0 }),
              h("label", { for: `method-${method}` }, t(`method_${method}`)),
            ),
          ),
        ),
        submit("payment_start"),
      ],
      async (values) => {
        await api(`/v1/applications/${application.id}/payments`, { method: "POST", body: { method: values.method } });
        await onPaid(null);
      },
    );
    return h("section", { class: "payment", "aria-labelledby": "payment-title" }, heading, amount, choose);
  }
  return h(
    "section",
    { class: "payment", "aria-labelledby": "payment-title" },
    heading,
    amount,
    h("p", { id: "payment-status", "data-status": payment.status }, t(`payment_${payment.status}`)),
    payment.status === "pending" ? voucher(payment.instructions, onPaid) : null,
  );
}
