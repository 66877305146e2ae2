// citylab dashboard: the page's entry point. Hash routes pick a page module; the
// header shows totals and the live connection. Plain ES modules, no build step,
// nothing loaded from elsewhere; every address is relative, so the page also
// works served under a path prefix. Every user-facing string is in js/strings.js.
import { STRINGS } from "./js/strings.js";
import { el } from "./js/dom.js";
import { live } from "./js/live.js";
import { cityPage } from "./js/pages/city.js";
import { devicePage } from "./js/pages/device.js";
import { labsPage, labPage } from "./js/pages/labs.js";
import { gradebookPage, gradePage } from "./js/pages/gradebook.js";
import { deadPage } from "./js/pages/dead.js";
import { apiPage } from "./js/pages/api.js";
import { accountsPage } from "./js/pages/accounts.js";
import { session, loadSession, isClassroom } from "./js/session.js";

const ROUTES = [
  [/^#?\/?(?:city)?$/, cityPage, "city"],
  [/^#\/device\/([^/]+)\/([^/]+)$/, devicePage, "city"],
  [/^#\/labs$/, labsPage, "labs"],
  [/^#\/labs\/([^/]+)$/, labPage, "labs"],
  [/^#\/gradebook$/, gradebookPage, "gradebook"],
  [/^#\/gradebook\/(\d+)$/, gradePage, "gradebook"],
  [/^#\/dead-letters$/, deadPage, "deadLetters"],
  [/^#\/api$/, apiPage, "api"],
  [/^#\/accounts$/, accountsPage, "accounts"],
];

const main = document.getElementById("main");
let leave = null;
let generation = 0;

function navigate(hash) {
  location.hash = hash;
}

async function route() {
  const path = location.hash.split("?")[0];
  if (typeof leave === "function") leave();
  leave = null;
  const mine = ++generation;
  const match = ROUTES.map(([pattern, page, nav]) => [path.match(pattern), page, nav]).find(([m]) => m);
  for (const link of document.querySelectorAll(".nav a")) {
    if (match && link.dataset.nav === match[2]) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  main.setAttribute("aria-busy", "true");
  main.replaceChildren(el("p", { class: "muted loading", text: STRINGS.loading }));
  try {
    if (!match) {
      main.replaceChildren(el("h1", { text: STRINGS.notFound }), el("p", {}, el("a", { href: "#/city", text: STRINGS.backToCity })));
      return;
    }
    const cleanup = await match[1](main, { params: match[0].slice(1), navigate });
    if (mine !== generation) { if (typeof cleanup === "function") cleanup(); return; }
    leave = cleanup;
    const title = main.querySelector("h1");
    document.title = title ? `${title.textContent} · ${STRINGS.appName}` : STRINGS.appName;
  } catch (error) {
    main.replaceChildren(el("p", { class: "error", role: "alert", text: error.message }));
  } finally {
    main.removeAttribute("aria-busy");
  }
}

function renderCounts() {
  document.getElementById("count-devices").textContent = live.devices.size.toLocaleString();
  document.getElementById("count-readings").textContent = live.counts.readings.toLocaleString();
  document.getElementById("count-dead-letters").textContent = live.counts.dead_letters.toLocaleString();
}

function setConnection(kind) {
  const text = { live: STRINGS.live, connecting: STRINGS.connecting, reconnecting: STRINGS.reconnecting, warning: STRINGS.storeBusy, error: STRINGS.reconnecting }[kind];
  document.getElementById("connection").dataset.state = kind;
  document.getElementById("connection-text").textContent = text;
}

function translateStatic() {
  for (const node of document.querySelectorAll("[data-text]")) {
    const text = node.dataset.text.split(".").reduce((o, k) => (o ? o[k] : undefined), STRINGS);
    if (typeof text === "string") node.textContent = text;
  }
  document.querySelector(".nav").setAttribute("aria-label", STRINGS.nav.label);
}

let countsFrame = 0;
const scheduleCounts = () => { if (!countsFrame) countsFrame = requestAnimationFrame(() => { countsFrame = 0; renderCounts(); }); };
live.on("reading", scheduleCounts);
live.on("dead_letter", scheduleCounts);
live.on("devices", scheduleCounts);
live.on("connection", setConnection);
// Exposed for the browser tests and the latency benchmark: when the last reading arrived.
window.citylab = { live };

// The skip link focuses the content without touching the hash, which holds the route.
document.querySelector(".skip").addEventListener("click", (event) => { event.preventDefault(); main.focus(); });

// Classroom mode: who is logged in, a way out, and the accounts page for instructors.
function showUser() {
  if (!isClassroom()) return;
  const name = session.name || session.username;
  document.getElementById("user-name").textContent = session.role === "instructor"
    ? STRINGS.signedInInstructor.replace("{name}", name)
    : STRINGS.signedInAs.replace("{name}", name).replace("{site}", session.site);
  document.getElementById("logout-csrf").value = session.csrf;
  document.getElementById("user").hidden = false;
  document.querySelector('[data-nav="accounts"]').hidden = session.role !== "instructor";
}

translateStatic();
setConnection("connecting");
loadSession().catch(() => {}).then(() => {  // a 401 has already sent the page to the login
  showUser();
  window.addEventListener("hashchange", route);
  live.start();
  route();
});
