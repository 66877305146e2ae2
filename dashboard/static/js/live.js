// The live picture every page shares: the latest value of every device, fed by a
// snapshot of /api/devices and then by the Server-Sent Events of /api/live.
// Pages subscribe to "reading", "dead_letter", "devices" and "connection" and
// unsubscribe when they are left.
import { getJSON } from "./dom.js";

const REFRESH_MS = 30000; // statuses and totals are not in the stream: refresh them now and then

export const key = (site, device) => `${site}/${device}`;

class Live {
  constructor() {
    this.devices = new Map(); // "site/device" -> {site, device, last_seen, status, telemetry, state}
    this.counts = { readings: 0, dead_letters: 0 };
    this.listeners = new Map();
    this.connection = "connecting";
    this.lastEvent = 0; // performance.now() of the newest reading event, for tests and benchmarks
  }

  /** The city file as /api/city gives it, fetched once per page load (it does not change while running). */
  city() {
    if (!this.cityPromise) {
      this.cityPromise = getJSON("api/city");
      this.cityPromise.catch(() => { this.cityPromise = null; }); // ask again next time
    }
    return this.cityPromise;
  }

  on(name, fn) {
    if (!this.listeners.has(name)) this.listeners.set(name, new Set());
    this.listeners.get(name).add(fn);
    return () => this.listeners.get(name).delete(fn);
  }

  emit(name, data) {
    for (const fn of this.listeners.get(name) || []) {
      try { fn(data); } catch (error) { console.error(error); }
    }
  }

  async refresh() {
    const [devices, health] = await Promise.all([getJSON("api/devices"), getJSON("api/health")]);
    const fresh = new Map(devices.map((d) => [key(d.site, d.device), d]));
    // The stream may already have delivered values newer than this snapshot.
    for (const [id, old] of this.devices) {
      const next = fresh.get(id);
      if (!next) { fresh.set(id, old); continue; }
      for (const channel of ["telemetry", "state"]) {
        for (const [name, latest] of Object.entries(old[channel])) {
          if (!next[channel][name] || next[channel][name].time < latest.time) next[channel][name] = latest;
        }
      }
      next.last_seen = Math.max(next.last_seen, old.last_seen);
    }
    this.devices = fresh;
    this.counts = { readings: health.counts.readings, dead_letters: health.counts.dead_letters };
    this.emit("devices", this.devices);
  }

  onReadings(rows) {
    let added = false;
    for (const row of rows) {
      const id = key(row.site, row.device);
      let device = this.devices.get(id);
      if (!device) {
        device = { site: row.site, device: row.device, last_seen: 0, status: null, telemetry: {}, state: {} };
        this.devices.set(id, device);
        added = true;
      }
      const channel = row.channel === "state" ? "state" : "telemetry";
      const latest = device[channel][row.name];
      if (!latest || row.time >= latest.time) {
        device[channel][row.name] = { value: row.value, unit: row.unit, time: row.time };
        device.last_seen = Math.max(device.last_seen, row.time);
      }
    }
    this.counts.readings += rows.length;
    this.lastEvent = performance.now();
    this.emit("reading", rows);
    if (added) this.emit("devices", this.devices);
  }

  setConnection(kind) {
    this.connection = kind;
    this.emit("connection", kind);
  }

  start() {
    // The stream first, the snapshot once it is ready: what is recorded in between
    // is then in the snapshot or in the stream, never in neither.
    this.connect();
    setInterval(() => this.refresh().catch(() => {}), REFRESH_MS);
  }

  connect() {
    // The whole stream, filtered on the page, so switching pages needs no reconnect.
    const source = new EventSource("api/live");
    source.addEventListener("ready", () => {
      this.setConnection("live");
      // First connection or a dropped one: take a snapshot now, and tell pages that loaded
      // their own lists (dead letters, statuses) to reload what the stream could not give them.
      this.refresh().catch(() => this.setConnection("error"));
      this.emit("ready");
    });
    source.addEventListener("reading", (event) => this.onReadings(JSON.parse(event.data)));
    source.addEventListener("dead_letter", (event) => {
      const rows = JSON.parse(event.data);
      this.counts.dead_letters += rows.length;
      this.emit("dead_letter", rows);
    });
    source.addEventListener("resync", () => this.refresh().catch(() => {}));
    source.addEventListener("store_error", () => this.setConnection("warning"));
    source.addEventListener("error", () => this.setConnection("reconnecting"));
  }
}

export const live = new Live();
