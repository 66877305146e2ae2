// The city page: the live map, its legend and controls, scenario events, and the
// device list (the keyboard and screen-reader way to every device on the map).
import { STRINGS } from "../strings.js";
import { el, t, getJSON, enc, quantityName, typeName, formatValue, formatTime, unitText, timeElement, statusBadge } from "../dom.js";
import { live, key } from "../live.js";
import { CityMap, deviceStatus, summaryLine } from "../map.js";
import { ReplayBar } from "../replay.js";

const LIST_LIMIT = 200;

export async function cityPage(main, { navigate }) {
  let city;
  try {
    city = await getJSON("api/city"); // fresh: injected scenario events change while the city runs
    live.cityPromise = Promise.resolve(city);
  } catch (error) {
    main.replaceChildren(el("h1", { text: STRINGS.nav.city }), el("p", { class: "notice", text: t(STRINGS.cityNoMap, { reason: error.message }) }));
    return deviceList(main, null, navigate);
  }
  let site = new URLSearchParams(location.hash.split("?")[1] || "").get("site") || city.site;
  let snapshot = null; // while replaying: device id -> record at the replayed moment
  const lookup = (id) => (snapshot ? snapshot.get(id) : live.devices.get(key(site, id)));
  let replayTime = null; // the replayed moment, passed on to a device opened from the map
  const map = new CityMap(city, lookup, (id) => navigate(`#/device/${enc(site)}/${enc(id)}${snapshot && replayTime ? `?at=${Math.round(replayTime)}` : ""}`));

  const modeSelect = el("select", { id: "colour-by" });
  const legendList = el("ul", { class: "legend-list" });
  const siteSelect = el("select", { id: "city-site" });
  const fillModes = () => {
    const names = new Set();
    for (const id of map.markers.keys()) {
      const d = lookup(id);
      if (d) for (const [n, l] of [...Object.entries(d.telemetry), ...Object.entries(d.state)]) if (typeof l.value === "number") names.add(n);
    }
    const wanted = ["status", "type", ...Object.keys(STRINGS.quantities).filter((n) => names.has(n)), ...[...names].filter((n) => !(n in STRINGS.quantities)).sort()];
    const current = [...modeSelect.options].map((o) => o.value).join();
    if (current === wanted.join()) return;
    modeSelect.replaceChildren(...wanted.map((m) => el("option", {
      value: m, text: m === "status" ? STRINGS.colourStatus : m === "type" ? STRINGS.colourType : quantityName(m),
    })));
    modeSelect.value = wanted.includes(map.mode) ? map.mode : "status";
    if (map.mode !== modeSelect.value) map.mode = modeSelect.value; // the quantity is gone: back to status
  };
  const unitOf = (name) => {
    for (const id of map.markers.keys()) {
      const d = lookup(id);
      const latest = d && (d.telemetry[name] || d.state[name]);
      if (latest) return latest.unit;
    }
    return "";
  };
  const drawLegend = () => legendList.replaceChildren(...map.legend(unitOf(map.mode)).map(({ colour, label }) =>
    el("li", {}, el("span", { class: `swatch${colour === "none" ? " swatch-none" : ""}`, "data-colour": colour }), el("span", { text: label }))));
  const fillSites = () => {
    const sites = [...new Set([city.site, site, ...[...live.devices.values()].map((d) => d.site)])].sort();
    if ([...siteSelect.options].map((o) => o.value).join() === sites.join()) return;
    siteSelect.replaceChildren(...sites.map((s) => el("option", { value: s, text: s })));
    siteSelect.value = site;
  };
  modeSelect.addEventListener("change", () => { map.setMode(modeSelect.value || "status"); drawLegend(); paintSwatches(legendList); });
  siteSelect.addEventListener("change", () => { site = siteSelect.value; map.recolour(); table.update(); drawLegend(); paintSwatches(legendList); });

  const events = el("ul", { class: "events" });
  const drawEvents = () => {
    const all = [...city.events, ...(city.injected || [])];
    if (!all.length) { events.replaceChildren(el("li", { class: "muted", text: STRINGS.noEvents })); return; }
    // Simulated seconds since the city's epoch, from the newest reading: only known when the file fixes the epoch.
    let simNow = null;
    if (city.epoch !== null && city.epoch !== undefined) {
      let newest = 0;
      for (const d of live.devices.values()) if (d.site === site) newest = Math.max(newest, d.last_seen);
      if (newest) simNow = newest - city.epoch;
    }
    events.replaceChildren(...all.map((e) => eventItem(e, simNow)));
  };

  const table = deviceTable(city, () => site, lookup, navigate);
  const others = otherDevices(city);
  const replayBadge = el("p", { class: "replay-badge", hidden: true, role: "status" });
  const replay = new ReplayBar(() => site, (found, time) => {
    snapshot = found;
    replayTime = found ? time : null;
    replayBadge.hidden = !found;
    if (found) replayBadge.textContent = t(STRINGS.replaying, { time: formatTime(time) });
    map.recolour(); drawLegend(); paintSwatches(legendList); table.update();
  });
  main.replaceChildren(
    el("div", { class: "page-head" },
      el("div", {}, el("h1", { text: t(STRINGS.cityTitle, { name: city.name }) }), el("p", { class: "muted", text: summaryLine(city) })),
      el("div", { class: "controls" },
        el("label", { class: "field" }, el("span", { text: STRINGS.citySite }), siteSelect),
        el("label", { class: "field" }, el("span", { text: STRINGS.colourBy }), modeSelect))),
    el("div", { class: "city-grid" },
      el("section", { class: "panel map-panel", "aria-label": STRINGS.nav.city }, map.render(), replayBadge, replay.element),
      el("aside", { class: "side" },
        el("section", { class: "panel", "aria-labelledby": "legend-title" }, el("h2", { id: "legend-title", text: STRINGS.legend }), legendList),
        el("section", { class: "panel", "aria-labelledby": "events-title" }, el("h2", { id: "events-title", text: STRINGS.eventsTitle }), events))),
    table.section,
    others.section,
  );
  fillSites(); fillModes(); map.recolour(); drawLegend(); paintSwatches(legendList); drawEvents();

  const offReading = live.on("reading", (rows) => {
    if (snapshot) return; // replaying: the map shows the past
    const ids = new Set(rows.filter((r) => r.site === site).map((r) => r.device));
    map.update(ids);
    table.update(ids);
  });
  const offDevices = live.on("devices", () => {
    others.draw();
    fillSites(); fillModes(); map.recolour(); drawLegend(); paintSwatches(legendList); table.update(); drawEvents();
  });
  return () => { offReading(); offDevices(); replay.pause(); };
}

function duration(seconds) {
  const u = STRINGS.durationUnits;
  if (seconds < 60) return t(u.s, { n: Math.round(seconds) });
  if (seconds < 3600) return t(u.min, { n: Math.round(seconds / 60) });
  if (seconds < 86400 * 2) return t(u.h, { n: +(seconds / 3600).toFixed(1) });
  return t(u.d, { n: +(seconds / 86400).toFixed(1) });
}

function eventItem(e, simNow) {
  const where = e.devices && e.devices.length ? t(STRINGS.eventWhereDevices, { devices: e.devices.join(", ") })
    : e.district ? t(STRINGS.eventWhereDistrict, { district: e.district }) : STRINGS.eventWhereCity;
  const active = simNow !== null && typeof e.start === "number" && e.start <= simNow && simNow < e.start + (e.duration || 0);
  const parts = [];
  if (typeof e.start === "number") parts.push(t(STRINGS.eventWhen, { start: duration(e.start), duration: duration(e.duration || 0) }));
  parts.push(where);
  if (typeof e.intensity === "number" && e.intensity !== 1) parts.push(t(STRINGS.eventIntensity, { n: e.intensity }));
  if (e.type === "sensor_failure" && e.mode) parts.push(e.mode);
  return el("li", { class: active ? "event active" : "event" },
    el("strong", { text: STRINGS.eventKinds[e.type] || e.type || e.name || "" }),
    active ? el("span", { class: "badge badge-online", text: STRINGS.eventActive }) : null,
    e.injected ? el("span", { class: "tag", text: STRINGS.eventInjected }) : null,
    el("div", { class: "muted", text: parts.join(" · ") }));
}

// Swatch colours are set through the CSSOM: the page's CSP forbids inline style attributes.
function paintSwatches(list) {
  for (const swatch of list.querySelectorAll(".swatch")) {
    if (swatch.dataset.colour !== "none") swatch.style.background = swatch.dataset.colour;
  }
}

function mainValue(device) {
  if (!device) return "–";
  const entries = Object.entries(device.telemetry);
  const order = Object.keys(STRINGS.quantities);
  entries.sort(([a], [b]) => (order.indexOf(a) + 1 || 99) - (order.indexOf(b) + 1 || 99));
  return entries.slice(0, 2).map(([n, l]) => `${quantityName(n)} ${formatValue(l.value)} ${unitText(l.unit)}`).join(" · ") || "–";
}

function deviceTable(city, getSite, lookup, navigate) {
  const { id, type, district } = city.devices;
  const filter = el("input", { type: "search", id: "device-filter", placeholder: STRINGS.deviceFilterHint, autocomplete: "off" });
  const body = el("tbody");
  const more = el("p", { class: "muted", hidden: true });
  const rows = new Map(); // id -> {latest, status, seen}
  const render = () => {
    const q = filter.value.trim().toLowerCase();
    const shown = [];
    for (let i = 0; i < id.length && shown.length < LIST_LIMIT; i++) {
      if (!q || id[i].includes(q) || type[i].includes(q) || district[i].includes(q) || typeName(type[i]).toLowerCase().includes(q)) shown.push(i);
    }
    rows.clear();
    body.replaceChildren(...shown.map((i) => {
      const cells = { status: el("td"), latest: el("td", { class: "latest" }), seen: el("td", { class: "num" }) };
      rows.set(id[i], cells);
      fill(id[i], cells);
      return el("tr", {},
        el("th", { scope: "row" }, el("a", { href: `#/device/${enc(getSite())}/${enc(id[i])}`, text: id[i] })),
        el("td", { text: typeName(type[i]) }), el("td", { text: district[i] }), cells.status, cells.latest, cells.seen);
    }));
    const total = q ? id.filter((v, i) => v.includes(q) || type[i].includes(q) || district[i].includes(q)).length : id.length;
    more.hidden = total <= shown.length;
    more.textContent = t(STRINGS.moreDevices, { shown: shown.length, n: total.toLocaleString() });
  };
  const fill = (deviceId, cells) => {
    const device = lookup(deviceId);
    cells.status.replaceChildren(statusBadge(deviceStatus(device)));
    cells.latest.textContent = mainValue(device);
    cells.seen.replaceChildren(timeElement(device?.last_seen));
  };
  filter.addEventListener("input", render);
  render();
  const section = el("section", { class: "panel", "aria-labelledby": "device-list-title" },
    el("div", { class: "panel-head" }, el("h2", { id: "device-list-title", text: STRINGS.deviceListTitle }),
      el("label", { class: "field" }, el("span", { text: STRINGS.deviceFilter }), filter)),
    el("div", { class: "table-wrap" }, el("table", { class: "data" },
      el("thead", {}, el("tr", {}, [STRINGS.colDevice, STRINGS.colType, STRINGS.colDistrict, STRINGS.colStatus, STRINGS.colLatest, STRINGS.colSeen]
        .map((h) => el("th", { scope: "col", text: h })))), body)),
    more);
  return {
    section,
    update(ids) {
      for (const [deviceId, cells] of rows) if (!ids || ids.has(deviceId)) fill(deviceId, cells);
    },
  };
}

// Devices that sent data but are not in the city file: a trainee's kit, a lab run. In classroom
// mode a trainee's are their own site's only (the server sends nobody else's).
function otherDevices(city) {
  const onMap = new Set(city.devices.id);
  const body = el("tbody");
  const section = el("section", { class: "panel", id: "other-devices", "aria-labelledby": "other-devices-title", hidden: true },
    el("h2", { id: "other-devices-title", text: STRINGS.otherDevices }),
    el("p", { class: "hint", text: STRINGS.otherDevicesHint }),
    el("div", { class: "table-wrap" }, el("table", { class: "data" }, el("thead", {}, el("tr", {},
      [STRINGS.colDevice, STRINGS.colStatus, STRINGS.colLatest, STRINGS.colSeen].map((h) => el("th", { scope: "col", text: h })))), body)));
  const draw = () => {
    const found = [...live.devices.values()].filter((d) => d.site !== city.site || !onMap.has(d.device)).slice(0, LIST_LIMIT);
    section.hidden = found.length === 0;
    body.replaceChildren(...found.map((d) => el("tr", {},
      el("th", { scope: "row" }, el("a", { href: `#/device/${enc(d.site)}/${enc(d.device)}`, text: `${d.site}/${d.device}` })),
      el("td", {}, statusBadge(deviceStatus(d))), el("td", { text: mainValue(d) }), el("td", {}, timeElement(d.last_seen)))));
  };
  draw();
  return { section, draw };
}

// Without a city file: the list of every device that sent data, so the page still works.
function deviceList(main, _city, navigate) {
  const body = el("tbody");
  const draw = () => body.replaceChildren(...[...live.devices.values()].map((d) => el("tr", {},
    el("th", { scope: "row" }, el("a", { href: `#/device/${enc(d.site)}/${enc(d.device)}`, text: `${d.site}/${d.device}` })),
    el("td", {}, statusBadge(deviceStatus(d))), el("td", { text: mainValue(d) }), el("td", {}, timeElement(d.last_seen)))));
  draw();
  main.append(el("section", { class: "panel" }, el("h2", { text: STRINGS.deviceListTitle }),
    el("div", { class: "table-wrap" }, el("table", { class: "data" }, el("thead", {}, el("tr", {},
      [STRINGS.colDevice, STRINGS.colStatus, STRINGS.colLatest, STRINGS.colSeen].map((h) => el("th", { scope: "col", text: h })))), body))));
  const off1 = live.on("devices", draw);
  const off2 = live.on("reading", draw);
  return () => { off1(); off2(); };
}
