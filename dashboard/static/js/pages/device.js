// One device: its latest values, a live chart per quantity over a chosen range,
// its online/offline history (last wills included) and the messages it had refused.
import { STRINGS } from "../strings.js";
import { el, t, getJSON, enc, quantityName, unitText, typeName, formatValue, formatTime, timeElement, statusBadge, errorBox } from "../dom.js";
import { live, key } from "../live.js";
import { drawChart } from "../charts.js";
import { deviceStatus } from "../map.js";
import { deadLetterItem } from "./dead.js";

const RANGES = [900, 3600, 21600, 86400];
const POINTS = 300;

export async function devicePage(main, { params }) {
  const [site, deviceId] = params.map(decodeURIComponent);
  // Opened from a replay: the charts end at that moment and do not follow live values.
  const at = Number(new URLSearchParams(location.hash.split("?")[1] || "").get("at")) || null;
  const base = `api/devices/${enc(site)}/${enc(deviceId)}`;
  let device;
  try {
    device = await getJSON(base);
  } catch (error) {
    main.replaceChildren(el("h1", { text: deviceId }), error.status === 404
      ? el("p", { class: "notice", text: t(STRINGS.unknownDevice, { site, device: deviceId }) })
      : errorBox(base, error));
    return undefined;
  }
  // Type and district come from the city file, when this device is in it.
  const city = await live.city().catch(() => null);
  const index = city ? city.devices.id.indexOf(deviceId) : -1;
  const where = index >= 0 ? `${typeName(city.devices.type[index])} · ${city.devices.district[index]} · ` : "";
  let range = Number(sessionStorage.getItem("citylab.range")) || 3600;
  const charts = new Map(); // "channel/name" -> {host, series, unit}
  const tiles = el("ul", { class: "tiles" });
  const status = el("span");
  const seen = el("span", { class: "muted" });
  const chartGrid = el("div", { class: "charts" });

  const rangeGroup = el("div", { class: "segmented", role: "radiogroup", "aria-label": STRINGS.rangeLabel },
    RANGES.map((seconds) => el("button", {
      type: "button", role: "radio", "aria-checked": String(seconds === range), "data-range": seconds, text: STRINGS.ranges[seconds],
      onclick: () => { range = seconds; sessionStorage.setItem("citylab.range", seconds); markRange(); loadCharts(); },
    })));
  // A radio group moves with the arrow keys (WAI-ARIA pattern); Tab leaves it.
  rangeGroup.addEventListener("keydown", (event) => {
    const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[event.key];
    if (!step) return;
    event.preventDefault();
    const next = RANGES[(RANGES.indexOf(range) + step + RANGES.length) % RANGES.length];
    rangeGroup.querySelector(`[data-range="${next}"]`).click();
    rangeGroup.querySelector(`[data-range="${next}"]`).focus();
  });
  const markRange = () => {
    for (const b of rangeGroup.querySelectorAll("button")) {
      const on = Number(b.dataset.range) === range;
      b.setAttribute("aria-checked", String(on));
      b.tabIndex = on ? 0 : -1;
    }
  };

  const drawTiles = () => {
    const items = [];
    for (const channel of ["telemetry", "state"]) {
      for (const [name, latest] of Object.entries(device[channel])) {
        items.push(el("li", { class: `tile tile-${channel}`, "data-name": name },
          el("span", { class: "label", title: name, text: quantityName(name) }, channel === "state" ? el("span", { class: "tag", text: STRINGS.stateTag }) : null),
          el("span", { class: "reading" }, el("span", { class: "value", text: formatValue(latest.value) }), " ", el("span", { class: "unit", text: unitText(latest.unit) }))));
      }
    }
    tiles.replaceChildren(...items);
    status.replaceChildren(statusBadge(deviceStatus(device)));
    seen.textContent = t(STRINGS.lastSeen, { time: "" });
    seen.append(timeElement(device.last_seen));
  };

  const loadCharts = async () => {
    const wanted = [];
    for (const channel of ["telemetry", "state"]) {
      for (const [name, latest] of Object.entries(device[channel])) if (typeof latest.value === "number") wanted.push([channel, name]);
    }
    // Same quantities (a new range): keep the cards and redraw in place, so nothing flickers.
    const same = wanted.length === charts.size && wanted.every(([c, n]) => charts.has(`${c}/${n}`));
    if (!same) {
      charts.clear();
      chartGrid.replaceChildren(...wanted.map(([channel, name]) => {
        const host = el("div", { class: "chart-host" });
        const title = el("h3", {}, quantityName(name), channel === "state" ? el("span", { class: "tag", text: STRINGS.stateTag }) : null);
        charts.set(`${channel}/${name}`, { host, series: null, channel, name });
        return el("section", { class: "panel chart-card", "data-quantity": name }, title, host);
      }));
    }
    const asked = range;
    await Promise.all(wanted.map(async ([channel, name]) => {
      const entry = charts.get(`${channel}/${name}`);
      try {
        const series = await getJSON(`${base}/series?name=${enc(name)}&channel=${channel}&seconds=${asked}&points=${POINTS}${at ? `&end=${at}` : ""}`);
        if (asked !== range) return; // the user picked another range meanwhile
        entry.series = series;
        draw(entry);
      } catch (error) {
        entry.host.replaceChildren(errorBox(name, error));
      }
    }));
  };
  const draw = (entry) => drawChart(entry.host, entry.series, {
    name: quantityName(entry.name), unitLabel: unitText(entry.series.unit), rangeLabel: STRINGS.ranges[range],
  });

  const statusList = el("ol", { class: "timeline" });
  const deadList = el("ol", { class: "dead-list" });
  const loadSide = async () => {
    const [statuses, dead] = await Promise.all([
      getJSON(`${base}/statuses?limit=50`), getJSON(`api/dead-letters?site=${enc(site)}&device=${enc(deviceId)}&limit=50`),
    ]);
    statusList.replaceChildren(...(statuses.length ? statuses.map((s) => el("li", {}, statusBadge(s.status), " ", timeElement(s.received)))
      : [el("li", { class: "muted", text: STRINGS.noStatuses })]));
    deadList.replaceChildren(...(dead.length ? dead.map(deadLetterItem) : [el("li", { class: "muted", text: STRINGS.noDeviceDeadLetters })]));
  };

  main.replaceChildren(
    el("div", { class: "page-head" },
      el("div", {}, el("h1", {}, el("span", { text: deviceId }), " ", status), el("p", { class: "muted" }, el("span", { text: `${where}${t(STRINGS.deviceOfSite, { site })} · ` }), seen,
        at ? el("span", { class: "replay-note" }, " · ", el("strong", { text: t(STRINGS.replaying, { time: formatTime(at) }) }), " ",
          el("a", { href: `#/device/${enc(site)}/${enc(deviceId)}`, text: STRINGS.replayBackToLive })) : null)),
      el("div", { class: "controls" }, el("span", { class: "field-label", id: "range-label", text: STRINGS.rangeLabel }), rangeGroup)),
    el("section", { class: "panel", "aria-label": STRINGS.colLatest }, tiles),
    chartGrid,
    el("div", { class: "two-col" },
      el("section", { class: "panel", "aria-labelledby": "status-title" }, el("h2", { id: "status-title", text: STRINGS.statusHistory }),
        el("p", { class: "hint", text: STRINGS.statusHistoryHint }), statusList),
      el("section", { class: "panel", "aria-labelledby": "device-dead-title" }, el("h2", { id: "device-dead-title", text: STRINGS.deviceDeadLetters }), deadList)),
  );
  drawTiles();
  markRange();
  await Promise.all([loadCharts(), loadSide().catch((error) => deadList.replaceChildren(errorBox("history", error)))]);

  let frame = 0;
  const dirty = new Set();
  // The page keeps its own copy of the device: the shared live record may still be
  // partial (the stream can start before the first snapshot arrives).
  const offReading = live.on("reading", (rows) => {
    let structure = false;
    let mine = false;
    for (const row of rows) {
      if (row.site !== site || row.device !== deviceId) continue;
      mine = true;
      if (at) continue; // replaying: the charts stay at the replayed moment
      const channel = row.channel === "state" ? "state" : "telemetry";
      const latest = device[channel][row.name];
      if (!latest || row.time >= latest.time) device[channel][row.name] = { value: row.value, unit: row.unit, time: row.time };
      device.last_seen = Math.max(device.last_seen, row.time);
      if (typeof row.value !== "number") continue;
      const entry = charts.get(`${channel}/${row.name}`);
      if (!entry) { structure = true; continue; }
      if (!entry.series) continue;
      const s = entry.series;
      s.points.push({ time: row.time, mean: row.value, min: row.value, max: row.value, n: 1 });
      if (s.points.length > 1 && s.points.at(-2).time > row.time) s.points.sort((a, b) => a.time - b.time);
      s.end = Math.max(s.end, row.time);
      s.start = s.end - range;
      while (s.points.length && s.points[0].time < s.start) s.points.shift();
      dirty.add(entry);
    }
    if (!mine) return;
    if (structure) loadCharts(); // a new quantity: a new chart
    drawTiles();
    if (!frame && dirty.size) frame = requestAnimationFrame(() => { frame = 0; for (const e of dirty) draw(e); dirty.clear(); });
  });
  const offDead = live.on("dead_letter", (rows) => {
    if (rows.some((d) => d.site === site && d.device === deviceId)) loadSide().catch(() => {});
  });
  const offDevices = live.on("devices", () => {
    const fresh = live.devices.get(key(site, deviceId));
    if (!fresh) return;
    device.status = fresh.status;
    for (const channel of ["telemetry", "state"]) {
      for (const [name, latest] of Object.entries(fresh[channel])) {
        if (!device[channel][name] || device[channel][name].time < latest.time) device[channel][name] = latest;
      }
    }
    drawTiles();
    loadSide().catch(() => {});
  });
  const offReady = live.on("ready", () => loadSide().catch(() => {}));
  const onResize = () => { for (const entry of charts.values()) if (entry.series) draw(entry); };
  window.addEventListener("resize", onResize);
  return () => { offReading(); offDead(); offDevices(); offReady(); window.removeEventListener("resize", onResize); };
}
