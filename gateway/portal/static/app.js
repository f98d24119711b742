// The portal shell: settings switches, the menu, the live alert banner and a hash router.
import { session } from "./api.js";
import { h, mount } from "./dom.js";
import { lang, loadCatalogues, setLang, t, translateStatic } from "./i18n.js";
import { startBanner } from "./views/banner.js";
import { citizenRoutes } from "./views/citizen.js";
import { facilityRoutes } from "./views/facilities.js";
import { kioskView } from "./views/kiosk.js";
import { lotteryRoutes } from "./views/lotteries.js";
import { staffRoutes } from "./views/staff.js";

const PREFS = "cityhall.portal.prefs";
const routes = [...citizenRoutes, ...facilityRoutes, ...lotteryRoutes, ...staffRoutes];

function prefs() {
  return JSON.parse(localStorage.getItem(PREFS) || "{}");
}

function applyPrefs() {
  const { large = false, contrast = false } = prefs();
  document.documentElement.classList.toggle("large-text", large);
  document.documentElement.classList.toggle("high-contrast", contrast);
  document.getElementById("text-size").setAttribute("aria-pressed", String(large));
  document.getElementById("contrast").setAttribute("aria-pressed", String(contrast));
  const switcher = document.getElementById("lang-switch");
  switcher.textContent = lang() === "ja" ? "English" : "日本語";
  switcher.lang = lang() === "ja" ? "en" : "ja";
}

function toggle(name) {
  localStorage.setItem(PREFS, JSON.stringify({ ...prefs(), [name]: !prefs()[name] }));
  applyPrefs();
}

function renderNav() {
  const me = session()?.me;
  const staff = me && me.kind === "staff";
  const links = staff
    ? [
        ["#/staff/queue", "nav_queue"],
        ["#/staff/alerts", "nav_alert_composer"],
        ["#/staff/facilities", "nav_facility_admin"],
        ["#/staff/audit", "nav_audit"],
        ["#/logout", "nav_logout"],
      ]
    : [
        ["#/procedures", "nav_procedures"],
        ["#/facilities", "nav_facilities"],
        ["#/lotteries", "nav_lotteries"],
        ["#/alerts", "nav_alerts"],
        ...(me
          ? [
              ["#/applications", "nav_my_applications"],
              ["#/reservations", "nav_my_reservations"],
              ["#/logout", "nav_logout"],
            ]
          : [
              ["#/login", "nav_login"],
              ["#/register", "nav_register"],
              ["#/staff/login", "nav_staff_login"],
            ]),
      ];
  const current = location.hash || "#/";
  mount(
    document.getElementById("nav"),
    h(
      "ul",
      {},
      links.map(([href, key]) =>
        h("li", {}, h("a", { href, "aria-current": current.startsWith(href) ? "page" : null }, t(key))),
      ),
    ),
  );
}

function match(path) {
  for (const route of routes) {
    const found = path.match(route.pattern);
    if (found) return { route, params: found.slice(1).map(decodeURIComponent) };
  }
  return null;
}

// After a navigation focus moves to the new view (screen readers announce it); on the first
// load it stays at the top, so the skip link is the first Tab stop.
async function render(moveFocus = true) {
  if (location.pathname === "/kiosk") {
    document.body.classList.add("kiosk");
    document.getElementById("nav").hidden = true;
    await kioskView(document.getElementById("main"));
    document.body.dataset.view = location.pathname;
    return;
  }
  const hash = location.hash || "#/";
  if (!hash.startsWith("#/")) return; // in-page anchors (skip link, error summary)
  const [path, search = ""] = hash.slice(1).split("?");
  const main = document.getElementById("main");
  const found = match(path) || match("/");
  renderNav();
  try {
    await found.route.view(main, ...found.params, new URLSearchParams(search));
  } catch (error) {
    mount(main, h("h1", {}, t("error_title")), h("p", { role: "alert" }, error.message));
  }
  const heading = main.querySelector("h1");
  document.title = `${heading ? heading.textContent : ""} | ${t("site_name")}`;
  if (moveFocus) main.focus({ preventScroll: true });
  document.body.dataset.view = location.pathname + hash; // which view is on screen (tests)
}

async function start() {
  await loadCatalogues();
  translateStatic();
  applyPrefs();
  document.getElementById("text-size").addEventListener("click", () => toggle("large"));
  document.getElementById("contrast").addEventListener("click", () => toggle("contrast"));
  document.getElementById("lang-switch").addEventListener("click", () => {
    setLang(lang() === "ja" ? "en" : "ja");
    translateStatic();
    applyPrefs();
    render(false);
  });
  window.addEventListener("hashchange", () => render());
  window.addEventListener("portal:session", renderNav);
  startBanner(document.getElementById("banner"));
  await render(false);
  document.body.dataset.ready = "true";
}

start();
