// The API reference, drawn from /openapi.json: every route the pages use, with its
// parameters and answers. Swagger UI would need its scripts from a CDN; this does not.
import { STRINGS } from "../strings.js";
import { el, getJSON } from "../dom.js";

export async function apiPage(main) {
  const spec = await getJSON("openapi.json");
  const sections = Object.entries(spec.paths).map(([path, methods]) => Object.entries(methods).map(([method, op]) =>
    el("section", { class: "panel api-op" },
      el("h2", {}, el("span", { class: `method method-${method}`, text: method.toUpperCase() }), " ", el("code", { text: path })),
      el("p", { text: op.summary || "" }),
      op.description && op.description !== op.summary ? el("p", { class: "muted", text: op.description.replaceAll("``", "") }) : null,
      (op.parameters || []).length ? el("table", { class: "data" },
        el("thead", {}, el("tr", {}, [STRINGS.apiParam, STRINGS.apiIn, STRINGS.apiType, STRINGS.apiDescription].map((h) => el("th", { scope: "col", text: h })))),
        el("tbody", {}, op.parameters.map((p) => el("tr", {},
          el("td", {}, el("code", { text: p.name }), p.required ? el("span", { class: "muted", text: ` ${STRINGS.apiRequired}` }) : null),
          el("td", { text: p.in }),
          el("td", { text: typeOf(p.schema) }),
          el("td", { text: p.description || p.schema?.description || "" }))))) : null,
      el("p", { class: "muted" }, `${STRINGS.apiAnswers}: ${Object.keys(op.responses || {}).join(", ")}`))));
  main.replaceChildren(
    el("div", { class: "page-head" }, el("div", {}, el("h1", { text: STRINGS.apiTitle }),
      el("p", { class: "muted" }, STRINGS.apiIntro, " ", el("a", { href: "openapi.json", text: "openapi.json" })))),
    ...sections.flat());
}

function typeOf(schema = {}) {
  if (schema.anyOf) return schema.anyOf.map(typeOf).filter((x) => x !== "null").join(" | ");
  if (schema.enum) return schema.enum.join(" | ");
  return schema.type || "";
}
