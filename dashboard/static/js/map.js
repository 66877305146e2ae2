// The city map: districts and devices drawn in SVG from /api/city (metres east and
// north of the centre), markers coloured by status, device type or a quantity's
// latest value. Built for 10,000 markers: plain circles, one delegated listener,
// colours changed by class or fill only on the markers whose device changed.
import { STRINGS } from "./strings.js";
import { svg, el, t, plural, quantityName, unitText, typeName, formatValue } from "./dom.js";

// Colour-blind-safe categorical palette (Okabe-Ito), for device types.
const CATEGORY = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"];
// A sequential scale from good to bad; thresholds per known quantity, else the current range.
const SEQUENTIAL = ["#1a9850", "#91cf60", "#fee08b", "#fc8d59", "#d73027"];
const THRESHOLDS = {
  pm2_5: [10, 20, 25, 50], pm10: [20, 40, 50, 100], no2: [40, 90, 120, 230], o3: [50, 100, 130, 240], noise: [45, 55, 65, 75],
};
const PULSE_LIMIT = 300;
const FRAME_BUDGET_MS = 8;
const safe = (text) => String(text).replace(/[^a-z0-9_-]/gi, "");
const STATUS_COLOURS = { online: "#1a9850", reporting: "#0072B2", offline: "#d73027", silent: "#8a96a0" };

export function deviceStatus(device) {
  if (!device) return "silent";
  if (device.status === "online" || device.status === "offline") return device.status;
  return Object.keys(device.telemetry).length || Object.keys(device.state).length ? "reporting" : "silent";
}

function latestOf(device, name) {
  if (!device) return undefined;
  const latest = device.telemetry[name] || device.state[name];
  return latest && typeof latest.value === "number" ? latest : undefined;
}

export class CityMap {
  /** `city` from /api/city; `lookup(id)` gives the live device record or undefined; `onPick(id)` opens one. */
  constructor(city, lookup, onPick) {
    this.city = city;
    this.lookup = lookup;
    this.mode = "status";
    this.markers = new Map(); // device id -> circle
    this.typeColour = new Map(city.types.map((type, i) => [type, CATEGORY[i % CATEGORY.length]]));
    this.onPick = onPick;
    this.range = null;
    this.dirty = new Map(); // device id -> pulse?, waiting for the next frame
    this.frame = 0;
  }

  render() {
    const b = this.city.bounds;
    const n = this.city.devices.id.length;
    const spanX = Math.max(b.max_x - b.min_x, 200);
    const spanY = Math.max(b.max_y - b.min_y, 200);
    const margin = Math.max(spanX, spanY) * 0.08;
    const viewBox = [b.min_x - margin, -b.max_y - margin, spanX + 2 * margin, spanY + 2 * margin];
    const size = Math.max(spanX, spanY);
    // Markers shrink as the city fills up, so 10,000 devices stay distinguishable.
    this.radius = size * (n > 2000 ? 0.0035 : n > 200 ? 0.007 : 0.014);
    const root = svg("svg", {
      class: "city-map", viewBox: viewBox.join(" "), role: "img", preserveAspectRatio: "xMidYMid meet",
      "aria-label": t(STRINGS.mapLabel, { name: this.city.name, n: n.toLocaleString() }),
    });
    const districts = svg("g", { class: "districts", "aria-hidden": "true" });
    const labels = svg("g", { class: "district-labels", "aria-hidden": "true" });
    const pad = size * 0.035;
    for (const [i, d] of this.city.districts.entries()) {
      const points = d.outline.map(([x, y]) => `${x},${-y}`).join(" ");
      const shape = d.outline.length >= 3
        ? svg("polygon", { points })
        : svg("polyline", { points: d.outline.length === 1 ? `${points} ${points}` : points });
      shape.setAttribute("class", `district district-${i % 6}`);
      shape.setAttribute("stroke-width", pad * 2);
      districts.append(shape);
      // Above the district's northernmost device, clear of its markers.
      const top = Math.max(...d.outline.map(([, y]) => y));
      const label = svg("text", { x: d.centre[0], y: -top - pad * 1.6, "text-anchor": "middle", "font-size": size * 0.026 });
      label.textContent = d.name;
      labels.append(label);
    }
    // One string parsed once is several times faster than 10,000 createElementNS calls.
    // Ids are [a-z0-9-] and types [a-z_] by the contract and the city format, so no escaping is needed.
    const markers = svg("g", { class: "markers" });
    const { id, x, y, type } = this.city.devices;
    const r = this.radius.toPrecision(4);
    const parts = new Array(n);
    for (let i = 0; i < n; i++) {
      parts[i] = `<circle cx="${x[i]}" cy="${-y[i]}" r="${r}" data-id="${safe(id[i])}" data-type="${safe(type[i])}"></circle>`;
    }
    markers.innerHTML = parts.join("");
    let i = 0;
    for (const circle of markers.children) this.markers.set(id[i++], circle);
    markers.addEventListener("click", (event) => {
      const id = event.target.dataset?.id;
      if (id) this.onPick(id);
    });
    this.tooltip = el("div", { class: "map-tip", hidden: true, role: "presentation" });
    markers.addEventListener("pointerover", (event) => this.showTip(event));
    markers.addEventListener("pointerout", () => { this.tooltip.hidden = true; });
    // Labels above the markers, so a dense district still shows its name.
    root.append(districts, this.scaleBar(viewBox, size), markers, labels);
    if (n > 2000) root.classList.add("dense");
    this.svg = root;
    this.recolour();
    return el("div", { class: "map-wrap" }, root, this.tooltip);
  }

  // A scale bar of a round number of metres, about a fifth of the map wide.
  scaleBar([x0, y0, w, h], size) {
    const target = w / 5;
    const power = 10 ** Math.floor(Math.log10(target));
    const metres = [1, 2, 5, 10].map((k) => k * power).filter((m) => m <= target).at(-1) || power;
    const x = x0 + w * 0.04;
    const y = y0 + h * 0.96;
    const tick = size * 0.012;
    const label = svg("text", { x: x + metres / 2, y: y - tick * 1.4, "text-anchor": "middle", "font-size": size * 0.022 });
    label.textContent = metres >= 1000 ? `${metres / 1000} km` : `${metres} m`;
    return svg("g", { class: "scale-bar", "aria-hidden": "true" },
      svg("path", { d: `M${x},${y - tick}V${y}H${x + metres}V${y - tick}` }), label);
  }

  showTip(event) {
    const id = event.target.dataset?.id;
    if (!id) return;
    const device = this.lookup(id);
    const type = event.target.dataset.type;
    const values = device ? Object.entries(device.telemetry).slice(0, 4)
      .map(([name, latest]) => `${quantityName(name)} ${formatValue(latest.value)} ${unitText(latest.unit)}`) : [];
    this.tooltip.replaceChildren(
      el("strong", { text: id }), el("span", { text: ` · ${typeName(type)} · ${STRINGS.status[deviceStatus(device)]}` }),
      ...values.map((v) => el("div", { text: v })));
    const box = this.svg.getBoundingClientRect();
    const dot = event.target.getBoundingClientRect();
    this.tooltip.style.left = `${dot.left - box.left + dot.width / 2}px`;
    this.tooltip.style.top = `${dot.top - box.top}px`;
    this.tooltip.hidden = false;
  }

  setMode(mode) {
    this.mode = mode;
    this.recolour();
  }

  /** Colour every marker (mode change, snapshot) and return the legend's entries. */
  recolour() {
    this.range = null;
    if (!["status", "type"].includes(this.mode) && !(this.mode in THRESHOLDS)) {
      const values = [];
      for (const id of this.markers.keys()) {
        const latest = latestOf(this.lookup(id), this.mode);
        if (latest) values.push(latest.value);
      }
      this.range = values.length ? [Math.min(...values), Math.max(...values)] : [0, 1];
    }
    for (const [id, circle] of this.markers) this.paint(id, circle);
  }

  /** Colour the markers of these device ids only (a live update); a few changed markers pulse.
   * Painting runs in animation frames with a time budget, so a burst of 10,000 readings never
   * holds the page for longer than a frame or two at a time. */
  update(ids) {
    const pulse = ids.size <= PULSE_LIMIT;
    for (const id of ids) this.dirty.set(id, pulse);
    if (!this.frame) this.frame = requestAnimationFrame(() => this.paintDirty());
  }

  paintDirty() {
    this.frame = 0;
    const until = performance.now() + FRAME_BUDGET_MS;
    const pulsing = [];
    for (const [id, pulse] of this.dirty) {
      this.dirty.delete(id);
      const circle = this.markers.get(id);
      if (circle) {
        this.paint(id, circle);
        if (pulse) { circle.classList.remove("pulse"); pulsing.push(circle); }
      }
      if (performance.now() > until) break;
    }
    if (pulsing.length) requestAnimationFrame(() => { for (const c of pulsing) c.classList.add("pulse"); });
    if (this.dirty.size) this.frame = requestAnimationFrame(() => this.paintDirty());
  }

  paint(id, circle) {
    const device = this.lookup(id);
    const status = deviceStatus(device);
    const offline = status === "offline";
    if (circle.offline !== offline) { circle.classList.toggle("offline", offline); circle.offline = offline; }
    let colour;
    if (this.mode === "status") colour = STATUS_COLOURS[status];
    else if (this.mode === "type") colour = this.typeColour.get(circle.dataset.type) || CATEGORY[7];
    else {
      const latest = latestOf(device, this.mode);
      colour = latest ? SEQUENTIAL[this.bin(latest.value)] : "none";
    }
    // Attribute writes are what cost at 10,000 markers: write only what changed.
    if (circle.colour !== colour) {
      circle.setAttribute("fill", colour);
      if ((circle.colour === "none") !== (colour === "none")) circle.classList.toggle("no-value", colour === "none");
      circle.colour = colour;
    }
  }

  bin(value) {
    const edges = THRESHOLDS[this.mode] || this.edges();
    let i = 0;
    while (i < edges.length && value >= edges[i]) i++;
    return i;
  }

  edges() {
    const [lo, hi] = this.range || [0, 1];
    const step = (hi - lo) / 5 || 1;
    return [1, 2, 3, 4].map((k) => lo + step * k);
  }

  legend(unit) {
    if (this.mode === "status") {
      return ["online", "reporting", "offline", "silent"].map((s) => ({ colour: STATUS_COLOURS[s], label: STRINGS.status[s] }));
    }
    if (this.mode === "type") return [...this.typeColour].map(([type, colour]) => ({ colour, label: typeName(type) }));
    const edges = THRESHOLDS[this.mode] || this.edges();
    const u = unitText(unit || "");
    const items = SEQUENTIAL.map((colour, i) => {
      const from = i === 0 ? null : edges[i - 1];
      const to = i === edges.length ? null : edges[i];
      const label = from === null ? `< ${formatValue(to)} ${u}` : to === null ? `≥ ${formatValue(from)} ${u}` : `${formatValue(from)} – ${formatValue(to)} ${u}`;
      return { colour, label };
    });
    return [...items, { colour: "none", label: STRINGS.legendNoValue }];
  }
}

export function summaryLine(city) {
  return `${plural(STRINGS.devicesInCity, city.devices.id.length)} · ${plural(STRINGS.districts, city.districts.length)}`;
}
