// The live alert banner: alert_mail's server-sent events through the gateway. The browser's
// EventSource reconnects by itself and sends Last-Event-ID, so nothing sent is missed.
import { h } from "../dom.js";
import { lang, t } from "../i18n.js";

export function alertText(alert) {
  return alert.content[lang()] || alert.content.ja || Object.values(alert.content)[0];
}

export function alertItem(alert) {
  const text = alertText(alert);
  return h(
    "article",
    { class: `alert severity-${String(alert.severity).toLowerCase()}`, "data-alert-id": alert.id },
    h("h2", {}, text.headline),
    text.body ? h("p", {}, text.body) : null,
  );
}

export function startBanner(container) {
  const stream = new EventSource("/v1/stream");
  stream.addEventListener("open", () => {
    document.body.dataset.stream = "open";
  });
  stream.addEventListener("error", () => {
    document.body.dataset.stream = "reconnecting";
  });
  stream.addEventListener("alert", (event) => {
    const alert = JSON.parse(event.data);
    container.querySelector(`[data-alert-id="${CSS.escape(alert.id)}"]`)?.remove();
    const close = h("button", { type: "button", class: "secondary", onclick: () => item.remove() }, t("dismiss"));
    const item = h("div", { class: "banner-item" }, h("p", { class: "banner-label" }, t("new_alert")), alertItem(alert), close);
    container.prepend(item);
  });
  return stream;
}
