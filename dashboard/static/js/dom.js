// Small helpers shared by every page: building elements, text templates, fetching JSON, formatting.
import { STRINGS } from "./strings.js";

const SVG_NS = "http://www.w3.org/2000/svg"; // an XML namespace name, never fetched

export function t(template, values = {}) {
  return template.replace(/\{(\w+)\}/g, (_, key) => (key in values ? String(values[key]) : `{${key}}`));
}

export function plural(forms, n) {
  return t(n === 1 ? forms.one : forms.other, { n: n.toLocaleString() });
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  setAttrs(node, attrs);
  for (const child of children.flat()) if (child !== null && child !== undefined && child !== false) node.append(child);
  return node;
}

export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  setAttrs(node, attrs);
  for (const child of children.flat()) if (child) node.append(child);
  return node;
}

function setAttrs(node, attrs) {
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.setAttribute("class", value);
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
}

// Classroom mode: the session's CSRF token, sent back on every state-changing request.
let csrfToken = "";
export function setCsrf(token) {
  csrfToken = token || "";
}

// Not logged in (or the session ended: logged out elsewhere, expired, revoked): go to the login page.
function loginIfNeeded(response) {
  if (response.status === 401) {
    location.assign(`login?next=${encodeURIComponent(location.pathname + location.hash)}`);
  }
}

export async function getJSON(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  loginIfNeeded(response);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw Object.assign(new Error(body.detail || `${response.status} ${response.statusText}`), { status: response.status });
  return body;
}

export async function postJSON(path, data) {
  const response = await fetch(path, {
    method: "POST",
    headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRF-Token": csrfToken },
    body: JSON.stringify(data),
  });
  loginIfNeeded(response);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw Object.assign(new Error(body.detail || `${response.status} ${response.statusText}`), { status: response.status });
  return body;
}

export const enc = encodeURIComponent;
export const quantityName = (name) => STRINGS.quantities[name] || name.replace(/_/g, " ");
export const unitText = (unit) => (unit in STRINGS.units ? STRINGS.units[unit] : unit);
export const typeName = (type) => STRINGS.types[type] || type.replace(/_/g, " ");

export function formatValue(value) {
  if (typeof value === "boolean") return value ? STRINGS.on : STRINGS.off;
  if (typeof value !== "number") return value === null || value === undefined ? "–" : String(value);
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return value.toLocaleString(undefined, { maximumFractionDigits: digits });
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

export function formatTime(seconds) {
  const date = new Date(seconds * 1000);
  return date.toDateString() === new Date().toDateString() ? timeFormat.format(date) : dateTimeFormat.format(date);
}

export function timeElement(seconds) {
  if (!seconds) return el("span", { class: "muted", text: "–" });
  const date = new Date(seconds * 1000);
  return el("time", { datetime: date.toISOString(), title: dateTimeFormat.format(date), text: formatTime(seconds) });
}

export function isoTimeElement(iso) {
  return timeElement(Date.parse(iso) / 1000);
}

export function statusBadge(status) {
  const kind = status in STRINGS.status ? status : "unknown";
  return el("span", { class: `badge badge-${kind}`, text: STRINGS.status[kind] });
}

export function errorBox(what, error) {
  return el("p", { class: "error", role: "alert", text: t(STRINGS.loadFailed, { what, reason: error.message }) });
}

export function heading(level, text, attrs = {}) {
  return el(`h${level}`, { ...attrs, text });
}
