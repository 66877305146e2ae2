// Hand-drawn SVG time charts: a line of means, a band of min..max per bucket, axes
// with round numbers and a label that says the same thing in words for screen readers.
// Hand-written instead of a vendored library: the page needs one kind of chart,
// and 150 lines are easier to keep accessible and offline than a dependency.
import { STRINGS } from "./strings.js";
import { svg, t, formatValue } from "./dom.js";

const HEIGHT = 190;
const PAD = { left: 48, right: 14, top: 12, bottom: 26 };

function niceStep(span, count) {
  const raw = span / Math.max(count, 1);
  const power = 10 ** Math.floor(Math.log10(raw));
  const unit = raw / power;
  return (unit < 1.5 ? 1 : unit < 3 ? 2 : unit < 7 ? 5 : 10) * power;
}

function ticks(min, max, count) {
  const step = niceStep(max - min || 1, count);
  const out = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

const hm = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const hms = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });

function timeTicks(start, end) {
  const span = end - start;
  const steps = [10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200];
  const step = steps.find((s) => span / s <= 6) || 86400;
  const out = [];
  for (let v = Math.ceil(start / step) * step; v <= end; v += step) out.push(v);
  return { values: out, format: step < 60 ? hms : hm };
}

/** Draw `series` ({start, end, unit, points: [{time, mean, min, max}]}) into `host`; returns the svg. */
export function drawChart(host, series, { name, unitLabel, rangeLabel }) {
  const width = Math.max(host.clientWidth || 600, 280);
  const points = series.points;
  const { end } = series;
  // A device that started recording inside the range: zoom to its data instead of a line squeezed to the right edge.
  const start = points.length > 1 && points[0].time > series.start ? points[0].time : series.start;
  const chart = svg("svg", { class: "chart", viewBox: `0 0 ${width} ${HEIGHT}`, width, height: HEIGHT, role: "img" });
  const innerW = width - PAD.left - PAD.right;
  const innerH = HEIGHT - PAD.top - PAD.bottom;
  if (!points.length) {
    chart.setAttribute("aria-label", STRINGS.chartEmpty);
    chart.append(svg("text", { x: width / 2, y: HEIGHT / 2, class: "chart-empty", "text-anchor": "middle" }, document.createTextNode(STRINGS.chartEmpty)));
    host.replaceChildren(chart);
    return chart;
  }
  let lo = Math.min(...points.map((p) => p.min));
  let hi = Math.max(...points.map((p) => p.max));
  if (hi - lo < 1e-9) { lo -= 1; hi += 1; }
  const pad = (hi - lo) * 0.08;
  const yTicks = ticks(lo - pad, hi + pad, 4);
  const yMin = Math.min(lo - pad, yTicks[0]);
  const yMax = Math.max(hi + pad, yTicks.at(-1));
  const x = (time) => PAD.left + ((time - start) / (end - start || 1)) * innerW;
  const y = (v) => PAD.top + (1 - (v - yMin) / (yMax - yMin || 1)) * innerH;

  const grid = svg("g", { class: "chart-grid", "aria-hidden": "true" });
  for (const v of yTicks) {
    grid.append(svg("line", { x1: PAD.left, x2: width - PAD.right, y1: y(v), y2: y(v) }));
    grid.append(svg("text", { x: PAD.left - 6, y: y(v) + 4, "text-anchor": "end" }, document.createTextNode(formatValue(v))));
  }
  const tt = timeTicks(start, end);
  for (const v of tt.values) {
    grid.append(svg("text", { x: x(v), y: HEIGHT - 7, "text-anchor": "middle" }, document.createTextNode(tt.format.format(new Date(v * 1000)))));
  }
  const band = points.some((p) => p.max > p.min)
    ? svg("path", { class: "chart-band", d: `M${points.map((p) => `${x(p.time).toFixed(1)},${y(p.max).toFixed(1)}`).join("L")}L${[...points].reverse().map((p) => `${x(p.time).toFixed(1)},${y(p.min).toFixed(1)}`).join("L")}Z` })
    : null;
  const line = svg("path", { class: "chart-line", d: `M${points.map((p) => `${x(p.time).toFixed(1)},${y(p.mean).toFixed(1)}`).join("L")}` });
  const last = points.at(-1);
  const dot = svg("circle", { class: "chart-dot", cx: x(last.time), cy: y(last.mean), r: 3.5 });
  chart.setAttribute("aria-label", t(STRINGS.chartLabel, {
    name, range: rangeLabel, n: points.length, min: formatValue(lo), max: formatValue(hi), unit: unitLabel, last: formatValue(last.mean),
  }));
  // Few points: show each one, so a sparse series does not look like a continuous signal.
  const dots = points.length <= 40
    ? svg("g", { class: "chart-points" }, points.map((p) => svg("circle", { cx: x(p.time).toFixed(1), cy: y(p.mean).toFixed(1), r: 2 })))
    : null;
  chart.append(grid, band, line, dots, dot);
  host.replaceChildren(chart);
  return chart;
}
