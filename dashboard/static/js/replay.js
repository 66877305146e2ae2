// Replay on the map: a time slider over what a site recorded, with play and speed.
// While replaying, the map shows the snapshot at the slider's time instead of live values.
import { STRINGS } from "./strings.js";
import { el, t, getJSON, enc, formatTime } from "./dom.js";

const STEP_MS = 500;
const SPEEDS = [10, 60, 600];

export class ReplayBar {
  /** `onSnapshot(map or null)`: a Map device id -> device record while replaying, null when back to live. */
  constructor(getSite, onSnapshot) {
    this.getSite = getSite;
    this.onSnapshot = onSnapshot;
    this.timer = 0;
    this.busy = false;
    this.span = null;
    this.pending = null;
    this.slider = el("input", { type: "range", id: "replay-time", min: 0, max: 1, step: 1, value: 1, "aria-label": STRINGS.replayTime });
    this.label = el("output", { for: "replay-time", class: "replay-time num" });
    this.play = el("button", { type: "button", id: "replay-play", "aria-pressed": "false", text: STRINGS.replayPlay });
    this.speed = el("select", { id: "replay-speed", "aria-label": STRINGS.replaySpeed },
      SPEEDS.map((s) => el("option", { value: s, text: t(STRINGS.replaySpeedOption, { n: s }) })));
    this.speed.value = "60";
    this.live = el("button", { type: "button", id: "replay-live", text: STRINGS.replayBackToLive });
    this.message = el("p", { class: "muted replay-message", hidden: true });
    this.open = el("button", { type: "button", id: "replay-open", class: "replay-open", text: STRINGS.replayOpen });
    this.bar = el("div", { class: "replay-bar", role: "group", "aria-label": STRINGS.replayTitle, hidden: true },
      this.play, this.slider, this.label, this.speed, this.live, this.message);
    this.slider.addEventListener("input", () => this.seek(Number(this.slider.value)));
    this.play.addEventListener("click", () => (this.timer ? this.pause() : this.start()));
    this.live.addEventListener("click", () => this.close());
    this.open.addEventListener("click", () => this.show());
  }

  get element() {
    return el("div", { class: "replay" }, this.open, this.bar);
  }

  async show() {
    try {
      const span = await getJSON(`api/replay/${enc(this.getSite())}`);
      this.span = span;
      this.slider.min = Math.floor(span.start);
      this.slider.max = Math.ceil(span.end);
      this.slider.value = Math.max(Math.floor(span.start), Math.ceil(span.end) - 3600);
      this.message.hidden = true;
    } catch (error) {
      this.message.textContent = error.message;
      this.message.hidden = false;
      this.bar.hidden = false;
      this.open.hidden = true;
      return;
    }
    this.bar.hidden = false;
    this.open.hidden = true;
    this.slider.focus();
    this.seek(Number(this.slider.value));
  }

  close() {
    this.pause();
    this.bar.hidden = true;
    this.open.hidden = false;
    this.onSnapshot(null);
  }

  start() {
    if (Number(this.slider.value) >= Number(this.slider.max)) this.slider.value = this.slider.min;
    this.play.setAttribute("aria-pressed", "true");
    this.play.textContent = STRINGS.replayPause;
    this.timer = setInterval(() => {
      const next = Math.min(Number(this.slider.value) + Number(this.speed.value) * (STEP_MS / 1000), Number(this.slider.max));
      this.slider.value = next;
      this.seek(next);
      if (next >= Number(this.slider.max)) this.pause();
    }, STEP_MS);
  }

  pause() {
    clearInterval(this.timer);
    this.timer = 0;
    this.play.setAttribute("aria-pressed", "false");
    this.play.textContent = STRINGS.replayPlay;
  }

  // One request at a time; while one is out, only the newest wanted time waits.
  async seek(time) {
    const text = t(STRINGS.replayAt, { time: formatTime(time) });
    this.label.textContent = text;
    this.slider.setAttribute("aria-valuetext", text);
    if (this.busy) { this.pending = time; return; }
    this.busy = true;
    // The slider moves in whole seconds; the first and last readings are not on whole seconds.
    const at = this.span ? Math.min(Math.max(time, this.span.start), this.span.end) : time;
    try {
      const rows = await getJSON(`api/replay/${enc(this.getSite())}/at?time=${at}`);
      const snapshot = new Map();
      for (const row of rows) {
        let device = snapshot.get(row.device);
        if (!device) {
          device = { site: row.site, device: row.device, last_seen: 0, status: null, telemetry: {}, state: {} };
          snapshot.set(row.device, device);
        }
        device[row.channel === "state" ? "state" : "telemetry"][row.name] = { value: row.value, unit: row.unit, time: row.time };
        device.last_seen = Math.max(device.last_seen, row.time);
      }
      if (!this.bar.hidden) this.onSnapshot(snapshot, time);
    } catch (error) {
      this.message.textContent = error.message;
      this.message.hidden = false;
    } finally {
      this.busy = false;
      if (this.pending !== null) { const next = this.pending; this.pending = null; this.seek(next); }
    }
  }
}
