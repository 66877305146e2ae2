// citylab dashboard: devices and dead letters, updated live over Server-Sent Events.
// Plain JavaScript, no build step, nothing loaded from elsewhere. Every address
// is relative, so the page also works when served under a path prefix.
"use strict";

// Every user-facing string, in one place so the page can be translated.
const STRINGS = {
  tagline: "Live dashboard",
  skipToDeadLetters: "Skip to dead letters",
  countDevices: "Devices",
  countReadings: "Readings",
  countDeadLetters: "Dead letters",
  devicesTitle: "Devices",
  siteFilter: "Site",
  allSites: "All sites",
  deadTitle: "Dead letters",
  deadHint: "Messages the contract refused, newest first, with the reason.",
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  storeBusy: "Store busy, retrying",
  noDevices: "No devices yet. They appear here as soon as the recorder stores their first message.",
  noDeadLetters: "No refused messages: everything received so far met the contract.",
  loadFailed: "Could not load {what}: {reason}",
  siteHeading: "Site {site}",
  deviceCount: { one: "{n} device", other: "{n} devices" },
  colDevice: "Device",
  colStatus: "Status",
  lastSeen: "seen",
  colReadings: "Latest readings",
  status: { online: "Online", offline: "Offline", unknown: "No status" },
  stateLabel: "set",
  noReadings: "No readings yet",
  deviceLink: "Readings of {device} as JSON",
  sparkline: "Last {n} values, from {min} to {max}",
  payload: "Payload ({size} bytes)",
  deadTopic: "Topic",
  deadKind: "Kind",
  on: "on",
  off: "off",
  // How quantities and SenML units read on screen; the raw name stays in a tooltip.
  quantities: {
    temperature: "Temperature", humidity: "Humidity", illuminance: "Illuminance",
    pm2_5: "PM2.5", pm10: "PM10", no2: "NO₂", o3: "O₃", noise: "Noise", pressure: "Pressure",
    dim: "Dimming", power: "Power", energy: "Energy", battery: "Battery",
    occupied: "Occupied", free: "Free spaces", fill: "Fill level", count: "Count", on: "Switch",
  },
  units: {
    Cel: "°C", "%RH": "% RH", "ug/m3": "µg/m³", "m3": "m³", "m2": "m²", "W/m2": "W/m²",
    "cd/m2": "cd/m²", "m/s2": "m/s²", "kg/m3": "kg/m³", count: "", "/": "", "%EL": "%",
  },
};

const SPARK_POINTS = 60;
const REFRESH_MS = 30000; // statuses and totals are not in the stream: refresh them now and then
const DEAD_KEEP = 50;
const SVG_NS = "http://www.w3.org/2000/svg"; // an XML namespace name, never fetched

const state = {
  devices: new Map(), // "site/device" -> device record from /api/devices
  rows: new Map(), // "site/device" -> {tr, tiles: Map("channel/name" -> tile)}
  history: new Map(), // "site/device/name" -> [[time, value], ...] (telemetry, numbers only)
  historyAsked: new Set(),
  dead: [],
  counts: { readings: 0, dead_letters: 0 },
  site: new URLSearchParams(location.search).get("site") || "",
  dirtySparks: new Set(),
};

// --- small helpers -------------------------------------------------------------

function t(template, values = {}) {
  return template.replace(/\{(\w+)\}/g, (_, key) => (key in values ? String(values[key]) : `{${key}}`));
}

function plural(forms, n) {
  return t(n === 1 ? forms.one : forms.other, { n: n.toLocaleString() });
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child);
  return node;
}

function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  return node;
}

async function getJSON(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.detail || `${response.status} ${response.statusText}`);
  return body;
}

const key = (site, device) => `${site}/${device}`;
const quantityName = (name) => STRINGS.quantities[name] || name.replace(/_/g, " ");
const unitText = (unit) => (unit in STRINGS.units ? STRINGS.units[unit] : unit);

function formatValue(value) {
  if (typeof value === "boolean") return value ? STRINGS.on : STRINGS.off;
  if (typeof value !== "number") return value === null || value === undefined ? "–" : String(value);
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return value.toLocaleString(undefined, { maximumFractionDigits: digits });
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

function timeElement(seconds) {
  if (!seconds) return el("span", { class: "muted", text: "–" });
  const date = new Date(seconds * 1000);
  const sameDay = date.toDateString() === new Date().toDateString();
  return el("time", {
    datetime: date.toISOString(),
    title: dateTimeFormat.format(date),
    text: sameDay ? timeFormat.format(date) : dateTimeFormat.format(date),
  });
}

// --- totals and connection -----------------------------------------------------

function renderCounts() {
  document.getElementById("count-devices").textContent = state.devices.size.toLocaleString();
  document.getElementById("count-readings").textContent = state.counts.readings.toLocaleString();
  document.getElementById("count-dead-letters").textContent = state.counts.dead_letters.toLocaleString();
}

function setConnection(kind, text) {
  document.getElementById("connection").dataset.state = kind;
  document.getElementById("connection-text").textContent = text;
}

// --- devices -------------------------------------------------------------------

function renderSiteFilter() {
  const select = document.getElementById("site-filter");
  const sites = [...new Set([...state.devices.values()].map((d) => d.site))].sort();
  if (state.site && !sites.includes(state.site)) sites.push(state.site);
  const current = [...select.options].slice(1).map((o) => o.value);
  if (current.join("\n") === sites.join("\n")) return;
  select.replaceChildren(el("option", { value: "", text: STRINGS.allSites }), ...sites.map((s) => el("option", { value: s, text: s })));
  select.value = state.site;
}

function renderDevices() {
  const container = document.getElementById("sites");
  state.rows.clear();
  const bySite = new Map();
  for (const device of state.devices.values()) {
    if (!bySite.has(device.site)) bySite.set(device.site, []);
    bySite.get(device.site).push(device);
  }
  const sections = [];
  for (const site of [...bySite.keys()].sort()) {
    const devices = bySite.get(site).sort((a, b) => a.device.localeCompare(b.device));
    sections.push(siteSection(site, devices));
  }
  container.replaceChildren(...sections);
  renderDevicesEmpty();
  renderSiteFilter();
  applySiteFilter();
  renderCounts();
}

function renderDevicesEmpty() {
  const empty = document.getElementById("devices-empty");
  empty.textContent = STRINGS.noDevices;
  empty.hidden = state.devices.size > 0;
}

function siteSection(site, devices) {
  const headingId = `site-${site}`;
  const table = el("table", { class: "device-table" },
    el("thead", {}, el("tr", {},
      el("th", { scope: "col", text: STRINGS.colDevice }),
      el("th", { scope: "col", text: STRINGS.colStatus }),
      el("th", { scope: "col", text: STRINGS.colReadings }))),
    el("tbody", {}, ...devices.map(deviceRow)));
  table.setAttribute("aria-labelledby", headingId);
  return el("section", { class: "site", "data-site": site },
    el("h3", { id: headingId },
      el("span", { text: t(STRINGS.siteHeading, { site }) }),
      el("span", { class: "site-count", text: plural(STRINGS.deviceCount, devices.length) })),
    el("div", { class: "table-wrap" }, table));
}

function deviceRow(device) {
  const id = key(device.site, device.device);
  const link = el("a", {
    href: `api/devices/${encodeURIComponent(device.site)}/${encodeURIComponent(device.device)}/readings?limit=100`,
    class: "device-name",
    title: t(STRINGS.deviceLink, { device: device.device }),
    text: device.device,
  });
  const tiles = new Map();
  const list = el("ul", { class: "tiles" });
  for (const channel of ["telemetry", "state"]) {
    for (const [name, latest] of byQuantityOrder(Object.entries(device[channel] || {}))) {
      const tile = makeTile(device, channel, name, latest);
      tiles.set(`${channel}/${name}`, tile);
      list.append(tile.li);
    }
  }
  if (!tiles.size) list.append(el("li", { class: "muted", text: STRINGS.noReadings }));
  const tr = el("tr", { "data-key": id },
    el("th", { scope: "row" }, link),
    el("td", {}, statusBadge(device.status), el("div", { class: "seen" },
      el("span", { text: `${STRINGS.lastSeen} ` }), el("span", { class: "last-seen" }, timeElement(device.last_seen)))),
    el("td", {}, list));
  const row = { tr, tiles, list };
  state.rows.set(id, row);
  observeRow(tr, device);
  return tr;
}

// Known quantities in the order of STRINGS.quantities (PM2.5 before PM10), then the rest by name.
function byQuantityOrder(entries) {
  const order = Object.keys(STRINGS.quantities);
  const rank = (name) => (order.includes(name) ? order.indexOf(name) : order.length);
  return entries.sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b));
}

function statusBadge(status) {
  const kind = status === "online" || status === "offline" ? status : "unknown";
  return el("span", { class: `badge badge-${kind}`, text: STRINGS.status[kind] });
}

function makeTile(device, channel, name, latest) {
  const value = el("span", { class: "value", text: formatValue(latest.value) });
  const unit = el("span", { class: "unit", text: unitText(latest.unit), title: latest.unit });
  const label = el("span", { class: "label", title: name, text: quantityName(name) });
  if (channel === "state") label.append(el("span", { class: "tag", text: STRINGS.stateLabel }));
  const spark = channel === "telemetry" ? svg("svg", { class: "spark", viewBox: "0 0 100 24", preserveAspectRatio: "none", role: "img" }) : null;
  const li = el("li", { class: `tile tile-${channel}` }, label, el("span", { class: "reading" }, value, " ", unit), spark);
  const tile = { li, value, unit, spark, historyKey: `${key(device.site, device.device)}/${name}` };
  if (spark) drawSpark(tile);
  return tile;
}

function updateTile(tile, latest) {
  const text = formatValue(latest.value);
  if (tile.value.textContent !== text) {
    tile.value.textContent = text;
    tile.value.classList.remove("changed");
    void tile.value.offsetWidth; // restart the highlight animation
    tile.value.classList.add("changed");
    clearTimeout(tile.flashTimer);
    tile.flashTimer = setTimeout(() => tile.value.classList.remove("changed"), 1000);
  }
  tile.unit.textContent = unitText(latest.unit);
  if (tile.spark) {
    state.dirtySparks.add(tile);
    scheduleSparks();
  }
}

// --- sparklines ----------------------------------------------------------------

function drawSpark(tile) {
  const points = (state.history.get(tile.historyKey) || []).filter(([, v]) => typeof v === "number");
  tile.spark.replaceChildren();
  if (points.length < 2) {
    tile.spark.setAttribute("aria-hidden", "true");
    return;
  }
  const values = points.map(([, v]) => v);
  const min = Math.min(...values);
  const max = Math.max(...values);
  const span = max - min || 1;
  const step = 100 / (points.length - 1);
  const coords = values.map((v, i) => `${(i * step).toFixed(2)},${(22 - ((v - min) / span) * 20).toFixed(2)}`);
  tile.spark.removeAttribute("aria-hidden");
  const label = t(STRINGS.sparkline, { n: values.length, min: formatValue(min), max: formatValue(max) });
  tile.spark.setAttribute("aria-label", label);
  const title = svg("title");
  title.textContent = label;
  tile.spark.append(
    title,
    svg("polyline", { class: "spark-area", points: `0,24 ${coords.join(" ")} 100,24` }),
    svg("polyline", { class: "spark-line", points: coords.join(" ") }),
  );
}

let sparkFrame = 0;
function scheduleSparks() {
  if (sparkFrame) return;
  sparkFrame = requestAnimationFrame(() => {
    sparkFrame = 0;
    for (const tile of state.dirtySparks) drawSpark(tile);
    state.dirtySparks.clear();
  });
}

function remember(site, device, name, time, value) {
  if (typeof value !== "number") return;
  const id = `${key(site, device)}/${name}`;
  const points = state.history.get(id) || [];
  points.push([time, value]);
  if (points.length > 1 && points[points.length - 2][0] > time) points.sort((a, b) => a[0] - b[0]);
  if (points.length > SPARK_POINTS) points.splice(0, points.length - SPARK_POINTS);
  state.history.set(id, points);
}

// History is fetched only for rows on screen: a cohort can have hundreds of devices.
const observer = "IntersectionObserver" in window
  ? new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      observer.unobserve(entry.target);
      loadHistory(entry.target.dataset.key);
    }
  }, { rootMargin: "200px" })
  : null;

function observeRow(tr, device) {
  if (state.historyAsked.has(key(device.site, device.device))) return;
  if (observer) observer.observe(tr);
  else loadHistory(key(device.site, device.device));
}

async function loadHistory(id) {
  const device = state.devices.get(id);
  if (!device || state.historyAsked.has(id)) return;
  state.historyAsked.add(id);
  const names = Object.keys(device.telemetry || {});
  if (!names.length) return;
  const path = `api/devices/${encodeURIComponent(device.site)}/${encodeURIComponent(device.device)}/readings?limit=${SPARK_POINTS * names.length}`;
  try {
    const rows = await getJSON(path);
    const live = new Map(); // values the stream delivered while we waited
    for (const name of names) live.set(name, state.history.get(`${id}/${name}`) || []);
    for (const name of names) state.history.delete(`${id}/${name}`);
    for (const row of rows) remember(device.site, device.device, row.name, row.time, row.value);
    for (const [name, points] of live) {
      const lastTime = (state.history.get(`${id}/${name}`) || []).at(-1)?.[0] ?? -Infinity;
      for (const [time, value] of points) if (time > lastTime) remember(device.site, device.device, name, time, value);
    }
    const row = state.rows.get(id);
    if (row) for (const tile of row.tiles.values()) if (tile.spark) state.dirtySparks.add(tile);
    scheduleSparks();
  } catch (error) {
    state.historyAsked.delete(id); // try again at the next refresh
    console.warn(t(STRINGS.loadFailed, { what: path, reason: error.message }));
  }
}

// --- live readings ---------------------------------------------------------------

function onReadings(rows) {
  let newDevice = false;
  const touched = new Set();
  for (const row of rows) {
    const id = key(row.site, row.device);
    let device = state.devices.get(id);
    if (!device) {
      device = { site: row.site, device: row.device, last_seen: 0, status: null, telemetry: {}, state: {} };
      state.devices.set(id, device);
      newDevice = true;
    }
    const channel = row.channel === "state" ? "state" : "telemetry";
    const latest = device[channel][row.name];
    if (!latest) newDevice = true; // a new quantity needs a new tile
    if (!latest || row.time >= latest.time) {
      device[channel][row.name] = { value: row.value, unit: row.unit, time: row.time };
      device.last_seen = Math.max(device.last_seen, row.time);
      touched.add(`${id}\n${channel}\n${row.name}`);
    }
    if (channel === "telemetry") remember(row.site, row.device, row.name, row.time, row.value);
  }
  state.counts.readings += rows.length;
  if (newDevice) {
    renderDevices();
    return;
  }
  for (const item of touched) {
    const [id, channel, name] = item.split("\n");
    const device = state.devices.get(id);
    const row = state.rows.get(id);
    const tile = row && row.tiles.get(`${channel}/${name}`);
    if (tile) updateTile(tile, device[channel][name]);
    if (row) row.tr.querySelector(".last-seen").replaceChildren(timeElement(device.last_seen));
  }
  renderCounts();
}

// --- dead letters ----------------------------------------------------------------

function renderDeadLetters(fresh = new Set()) {
  const list = document.getElementById("dead-list");
  const shown = state.dead.filter((d) => !state.site || d.site === state.site);
  const ids = shown.map((d) => d.id).join(",");
  if (list.dataset.ids !== ids) { // re-render only on change, so open payloads stay open
    list.dataset.ids = ids;
    list.replaceChildren(...shown.map((d) => {
      const item = deadItem(d);
      if (fresh.has(d.id)) item.classList.add("changed");
      return item;
    }));
  }
  const empty = document.getElementById("dead-empty");
  empty.textContent = STRINGS.noDeadLetters;
  empty.hidden = shown.length > 0;
  renderCounts();
}

function deadItem(dead) {
  const snippet = dead.payload.length > 80 ? `${dead.payload.slice(0, 80)}…` : dead.payload;
  return el("li", { class: "dead-item" },
    el("div", { class: "dead-meta" },
      timeElement(dead.received),
      el("span", { class: "kind", title: STRINGS.deadKind, text: dead.kind })),
    el("p", { class: "dead-topic" }, el("span", { class: "visually-hidden", text: `${STRINGS.deadTopic}: ` }), el("code", { text: dead.topic })),
    el("p", { class: "dead-reason", text: dead.reason }),
    el("details", { class: "dead-payload" },
      el("summary", {}, el("span", { class: "visually-hidden", text: `${t(STRINGS.payload, { size: dead.size })}: ` }), el("code", { text: snippet || "∅" })),
      el("pre", {}, el("code", { text: dead.payload }))));
}

function onDeadLetters(rows) {
  const known = new Set(state.dead.map((d) => d.id));
  const fresh = rows.filter((d) => !known.has(d.id));
  if (!fresh.length) return;
  state.dead = [...fresh, ...state.dead].sort((a, b) => b.id - a.id).slice(0, DEAD_KEEP);
  state.counts.dead_letters += fresh.length;
  renderDeadLetters(new Set(fresh.map((d) => d.id)));
}

// --- site filter -------------------------------------------------------------------

function applySiteFilter() {
  for (const section of document.querySelectorAll("#sites > .site")) {
    section.hidden = Boolean(state.site) && section.dataset.site !== state.site;
  }
}

document.getElementById("site-filter").addEventListener("change", (event) => {
  state.site = event.target.value;
  const url = new URL(location.href);
  if (state.site) url.searchParams.set("site", state.site);
  else url.searchParams.delete("site");
  history.replaceState(null, "", url);
  applySiteFilter();
  renderDeadLetters();
});

// --- loading and the live stream ---------------------------------------------------

function structure() {
  return [...state.devices.entries()]
    .map(([id, d]) => `${id}:${Object.keys(d.telemetry).sort()}|${Object.keys(d.state).sort()}`)
    .sort().join("\n");
}

function updateDevices() {
  for (const [id, device] of state.devices) {
    const row = state.rows.get(id);
    if (!row) continue;
    const badge = row.tr.querySelector(".badge");
    const next = statusBadge(device.status);
    if (badge.className !== next.className) badge.replaceWith(next);
    row.tr.querySelector(".last-seen").replaceChildren(timeElement(device.last_seen));
    for (const channel of ["telemetry", "state"]) {
      for (const [name, latest] of Object.entries(device[channel])) {
        const tile = row.tiles.get(`${channel}/${name}`);
        if (tile) updateTile(tile, latest);
      }
    }
  }
  renderDevicesEmpty();
  renderCounts();
}

async function refresh() {
  try {
    const [devices, dead, health] = await Promise.all([
      getJSON("api/devices"),
      getJSON(`api/dead-letters?limit=${DEAD_KEEP}`),
      getJSON("api/health"),
    ]);
    const before = structure();
    const snapshot = new Map(devices.map((d) => [key(d.site, d.device), d]));
    // The stream may already have delivered values newer than this snapshot.
    for (const [id, old] of state.devices) {
      const fresh = snapshot.get(id);
      if (!fresh) snapshot.set(id, old);
      else for (const channel of ["telemetry", "state"]) {
        for (const [name, latest] of Object.entries(old[channel])) {
          if (!fresh[channel][name] || fresh[channel][name].time < latest.time) fresh[channel][name] = latest;
        }
        fresh.last_seen = Math.max(fresh.last_seen, old.last_seen);
      }
    }
    state.devices = snapshot;
    state.dead = dead;
    state.counts = { readings: health.counts.readings, dead_letters: health.counts.dead_letters };
    // Rebuild only when devices or quantities changed, so focus and open details survive.
    if (structure() !== before || state.rows.size !== state.devices.size) renderDevices();
    else updateDevices();
    renderDeadLetters();
  } catch (error) {
    setConnection("error", t(STRINGS.loadFailed, { what: "api", reason: error.message }));
  }
}

function connect() {
  // The whole stream, filtered on the page, so switching sites needs no reconnect.
  const source = new EventSource("api/live");
  let opened = false;
  source.addEventListener("ready", () => {
    setConnection("live", STRINGS.live);
    if (opened) refresh(); // fill the gap left by a dropped connection
    opened = true;
  });
  source.addEventListener("reading", (event) => onReadings(JSON.parse(event.data)));
  source.addEventListener("dead_letter", (event) => onDeadLetters(JSON.parse(event.data)));
  source.addEventListener("store_error", () => setConnection("warning", STRINGS.storeBusy));
  source.addEventListener("error", () => setConnection("warning", STRINGS.reconnecting));
}

function translateStatic() {
  for (const node of document.querySelectorAll("[data-text]")) {
    const text = STRINGS[node.dataset.text];
    if (typeof text === "string") node.textContent = text;
  }
  setConnection("connecting", STRINGS.connecting);
}

translateStatic();
refresh().then(connect);
setInterval(refresh, REFRESH_MS);
