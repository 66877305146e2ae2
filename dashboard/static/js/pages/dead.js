// The dead-letter inspector: every refused message with its reason, topic, time and
// payload, filtered by site, device and kind, with new ones arriving live.
import { STRINGS } from "../strings.js";
import { el, t, getJSON, enc, timeElement, errorBox } from "../dom.js";
import { live } from "../live.js";

const KEEP = 200;

export function deadLetterItem(dead) {
  const snippet = dead.payload.length > 80 ? `${dead.payload.slice(0, 80)}…` : dead.payload;
  return el("li", { class: "dead-item", "data-id": dead.id },
    el("div", { class: "dead-meta" },
      timeElement(dead.received),
      el("span", { class: "kind", title: STRINGS.colKind, text: dead.kind })),
    el("p", { class: "dead-topic" }, el("span", { class: "visually-hidden", text: `${STRINGS.colTopic}: ` }), el("code", { text: dead.topic })),
    el("p", { class: "dead-reason", text: dead.reason }),
    el("details", { class: "dead-payload" },
      el("summary", {}, el("span", { class: "visually-hidden", text: `${STRINGS.colPayload} (${t(STRINGS.payloadBytes, { size: dead.size })}): ` }), el("code", { text: snippet || "∅" })),
      el("pre", {}, el("code", { text: dead.payload }))));
}

export async function deadPage(main) {
  const query = new URLSearchParams(location.hash.split("?")[1] || "");
  const site = el("input", { id: "dead-site", type: "search", value: query.get("site") || "", autocomplete: "off" });
  const device = el("input", { id: "dead-device", type: "search", value: query.get("device") || "", autocomplete: "off" });
  const kind = el("select", { id: "dead-kind" }, el("option", { value: "", text: STRINGS.allKinds }),
    ...["topic", "json", "senml", "name", "unit", "value", "size", "status", "command"].map((k) => el("option", { value: k, text: k })));
  const body = el("tbody");
  const empty = el("p", { class: "empty", text: STRINGS.noDeadLetters, hidden: true });
  let rows = [];

  const matches = (d) => (!site.value || d.site === site.value.trim()) && (!device.value || d.device === device.value.trim()) && (!kind.value || d.kind === kind.value);
  const render = (fresh = new Set()) => {
    const shown = rows.filter(matches);
    body.replaceChildren(...shown.map((d) => {
      const tr = el("tr", { "data-id": d.id },
        el("td", { class: "num" }, timeElement(d.received)),
        el("td", {}, el("code", { text: d.topic })),
        el("td", {}, el("span", { class: "kind", text: d.kind })),
        el("td", { class: "reason", text: d.reason }),
        el("td", {}, el("details", { class: "dead-payload" },
          el("summary", {}, el("span", { text: t(STRINGS.payloadBytes, { size: d.size }) })),
          el("pre", {}, el("code", { text: d.payload })))));
      if (fresh.has(d.id)) tr.classList.add("changed");
      return tr;
    }));
    empty.hidden = shown.length > 0;
  };
  const load = async () => {
    const params = new URLSearchParams({ limit: KEEP });
    if (site.value.trim()) params.set("site", site.value.trim());
    if (device.value.trim()) params.set("device", device.value.trim());
    try {
      rows = await getJSON(`api/dead-letters?${params}`);
      render();
    } catch (error) {
      body.replaceChildren(el("tr", {}, el("td", { colspan: 5 }, errorBox("api/dead-letters", error))));
    }
  };
  for (const input of [site, device]) input.addEventListener("change", load);
  kind.addEventListener("change", () => render());

  main.replaceChildren(
    el("div", { class: "page-head" },
      el("div", {}, el("h1", { text: STRINGS.deadTitle }), el("p", { class: "muted", text: STRINGS.deadHint })),
      el("div", { class: "controls" },
        el("label", { class: "field" }, el("span", { text: STRINGS.filterSite }), site),
        el("label", { class: "field" }, el("span", { text: STRINGS.filterDevice }), device),
        el("label", { class: "field" }, el("span", { text: STRINGS.kindFilter }), kind))),
    el("section", { class: "panel" }, el("div", { class: "table-wrap" }, el("table", { class: "data dead-table" },
      el("thead", {}, el("tr", {}, [STRINGS.colTime, STRINGS.colTopic, STRINGS.colKind, STRINGS.colReason, STRINGS.colPayload].map((h) => el("th", { scope: "col", text: h })))),
      body)), empty));
  await load();
  const offReady = live.on("ready", load);
  const offDead = live.on("dead_letter", (fresh) => {
    const known = new Set(rows.map((d) => d.id));
    const added = fresh.filter((d) => !known.has(d.id));
    if (!added.length) return;
    rows = [...added, ...rows].sort((a, b) => b.id - a.id).slice(0, KEEP);
    render(new Set(added.map((d) => d.id)));
  });
  return () => { offReady(); offDead(); };
}
