// The instructor's gradebook: a cohort x labs matrix of best scores with filters,
// the gradings behind a cell, one grading in detail, and the CSV export.
import { STRINGS } from "../strings.js";
import { el, t, plural, getJSON, enc, errorBox, isoTimeElement } from "../dom.js";
import { resultView } from "./labs.js";

export async function gradebookPage(main) {
  const query = new URLSearchParams(location.hash.split("?")[1] || "");
  const labs = await getJSON("api/labs").catch(() => []);
  const prefix = el("input", { id: "gb-prefix", type: "search", value: query.get("site_prefix") || "", autocomplete: "off" });
  const labSelect = el("select", { id: "gb-lab" }, el("option", { value: "", text: STRINGS.allLabs }),
    labs.map((l) => el("option", { value: l.id, text: `${l.number} ${l.title}` })));
  labSelect.value = query.get("lab_id") || "";
  const exportLink = el("a", { class: "button", id: "gb-export", download: "citylab-gradebook.csv", text: STRINGS.exportCsv });
  const matrixHost = el("div", { class: "table-wrap" });
  const runsHost = el("div", { class: "table-wrap" });
  let picked = { site: query.get("site") || "", lab: "" };

  const load = async () => {
    const params = new URLSearchParams();
    if (prefix.value.trim()) params.set("site_prefix", prefix.value.trim());
    if (labSelect.value) params.set("lab_id", labSelect.value);
    const csv = new URLSearchParams();
    if (picked.site) csv.set("site", picked.site);
    if (labSelect.value || picked.lab) csv.set("lab_id", picked.lab || labSelect.value);
    exportLink.href = `api/gradebook/export.csv${csv.size ? `?${csv}` : ""}`;
    try {
      const matrix = await getJSON(`api/gradebook/matrix?${params}`);
      matrixHost.replaceChildren(matrixTable(matrix, labs, (site, lab) => { picked = { site, lab }; load(); }));
      const runParams = new URLSearchParams({ limit: 200 });
      if (picked.site) runParams.set("site", picked.site);
      if (picked.lab || labSelect.value) runParams.set("lab_id", picked.lab || labSelect.value);
      const grades = await getJSON(`api/gradebook/grades?${runParams}`);
      const shown = prefix.value.trim() ? grades.filter((g) => g.site.startsWith(prefix.value.trim())) : grades;
      runsHost.replaceChildren(runsTable(shown));
    } catch (error) {
      matrixHost.replaceChildren(errorBox("gradebook", error));
    }
  };
  prefix.addEventListener("input", () => { picked = { site: "", lab: "" }; load(); });
  labSelect.addEventListener("change", () => { picked = { site: "", lab: "" }; load(); });

  main.replaceChildren(
    el("div", { class: "page-head" },
      el("div", {}, el("h1", { text: STRINGS.gradebookTitle }), el("p", { class: "muted", text: STRINGS.gradebookIntro })),
      el("div", { class: "controls" },
        el("label", { class: "field" }, el("span", { text: STRINGS.cohortFilter }), prefix),
        el("label", { class: "field" }, el("span", { text: STRINGS.labFilter }), labSelect),
        exportLink)),
    el("section", { class: "panel" }, matrixHost),
    el("section", { class: "panel", "aria-labelledby": "gradings-title" }, el("h2", { id: "gradings-title", text: STRINGS.gradingsTitle }), runsHost));
  await load();
}

function matrixTable(matrix, labs, pick) {
  if (!matrix.sites.length) return el("p", { class: "empty", text: STRINGS.noGrades });
  const title = new Map(labs.map((l) => [l.id, l]));
  const cells = new Map(matrix.cells.map((c) => [`${c.site}\n${c.lab_id}`, c]));
  return el("table", { class: "data matrix", id: "gb-matrix" },
    el("caption", { class: "visually-hidden", text: STRINGS.matrixCaption }),
    el("thead", {}, el("tr", {}, el("th", { scope: "col", text: STRINGS.colSite }),
      matrix.labs.map((id) => el("th", { scope: "col", title: title.get(id)?.title || id },
        el("span", { class: "lab-head" }, el("span", { class: "lab-head-number", text: title.get(id)?.number || id }),
          el("span", { class: "lab-head-title", text: title.get(id)?.title || "" })))))),
    el("tbody", {}, matrix.sites.map((site) => el("tr", {}, el("th", { scope: "row", text: site }),
      matrix.labs.map((lab) => {
        const c = cells.get(`${site}\n${lab}`);
        if (!c) return el("td", { class: "cell-empty", text: "·" });
        const kind = c.passed ? "pass" : c.best ? "partial" : "fail";
        return el("td", {}, el("button", {
          type: "button", class: `cell ${kind}`, onclick: () => pick(site, lab),
          "aria-label": `${site}, ${lab}: ${c.best} / ${c.max_score}, ${plural(STRINGS.attempts, c.attempts)}`,
        }, el("span", { class: "cell-score", text: t(STRINGS.scoreOf, { score: c.best, max: c.max_score }) }),
        el("span", { class: "cell-tries", text: plural(STRINGS.attempts, c.attempts) })));
      })))));
}

function runsTable(grades) {
  if (!grades.length) return el("p", { class: "empty", text: STRINGS.noGrades });
  return el("table", { class: "data", id: "gb-runs" },
    el("thead", {}, el("tr", {}, [STRINGS.colWhen, STRINGS.colSite, STRINGS.colLab, STRINGS.colScore, STRINGS.colDuration, ""].map((h) => el("th", { scope: "col", text: h })))),
    el("tbody", {}, grades.map((g) => el("tr", {},
      el("td", { class: "num" }, isoTimeElement(g.started)), el("td", { text: g.site }), el("td", { text: g.lab_id }),
      el("td", {}, el("span", { class: `score-pill ${g.passed ? "pass" : g.score ? "partial" : "fail"}`, text: t(STRINGS.scoreOf, { score: g.score, max: g.max_score }) })),
      el("td", { class: "num", text: t(STRINGS.seconds, { n: g.duration_s.toFixed(1) }) }),
      el("td", {}, el("a", { href: `#/gradebook/${g.id}`, text: STRINGS.detail }))))));
}

export async function gradePage(main, { params }) {
  const id = params[0];
  try {
    const grade = await getJSON(`api/gradebook/grades/${enc(id)}`);
    main.replaceChildren(
      el("div", { class: "page-head" }, el("div", {},
        el("p", { class: "eyebrow" }, el("a", { href: "#/gradebook", text: STRINGS.gradebookTitle })),
        el("h1", { text: t(STRINGS.gradeDetailTitle, { id }) }),
        el("p", { class: "muted" }, t(STRINGS.gradeMeta, { lab: grade.lab_id, site: grade.site, when: "" }), isoTimeElement(grade.started)))),
      el("section", { class: "panel run" }, resultView(grade.result, null)));
  } catch (error) {
    main.replaceChildren(el("h1", { text: t(STRINGS.gradeDetailTitle, { id }) }),
      error.status === 404 ? el("p", { class: "notice", text: t(STRINGS.unknownGrade, { id }) }) : errorBox("gradebook", error));
  }
}
