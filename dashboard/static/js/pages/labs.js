// The lab catalogue, one lab's instructions, and grading a solution from the page
// with its checks and feedback shown as soon as the grader has them.
import { STRINGS } from "../strings.js";
import { el, t, getJSON, postJSON, enc, errorBox, isoTimeElement } from "../dom.js";
import { session } from "../session.js";

const POLL_MS = 400;
const SITE_KEY = "citylab.site";

export async function labsPage(main) {
  const labs = await getJSON("api/labs");
  main.replaceChildren(
    el("div", { class: "page-head" }, el("div", {}, el("h1", { text: STRINGS.labsTitle }), el("p", { class: "muted", text: STRINGS.labsIntro }))),
    el("ul", { class: "lab-cards" }, labs.map((lab) => el("li", { class: "panel lab-card" },
      el("div", { class: "lab-number", "aria-hidden": "true", text: lab.number }),
      el("h2", {}, el("a", { href: `#/labs/${enc(lab.id)}`, "aria-label": `${t(STRINGS.openLab, { id: lab.number })}: ${lab.title}`, text: lab.title })),
      el("p", { text: lab.summary }),
      labFacts(lab),
      el("p", { class: "competences-title", text: STRINGS.competences }),
      el("ul", { class: "chips" }, lab.competences.map((c) => el("li", { text: c })))))));
}

function labFacts(lab) {
  return el("p", { class: "facts" },
    el("span", { class: `level level-${lab.level}`, text: STRINGS.level[lab.level] || lab.level }),
    el("span", { text: t(STRINGS.minutes, { n: lab.duration_minutes }) }),
    el("span", { text: `${STRINGS.runsOn}: ${lab.targets.map((x) => STRINGS.targets[x] || x).join(", ")}` }));
}

export async function labPage(main, { params }) {
  const labId = decodeURIComponent(params[0]);
  let lab;
  try {
    lab = await getJSON(`api/labs/${enc(labId)}`);
  } catch (error) {
    main.replaceChildren(el("h1", { text: labId }), errorBox(`lab ${labId}`, error));
    return undefined;
  }
  const instructions = el("article", { class: "panel instructions" });
  // Rendered on the server by markdown-it with raw HTML escaped: safe to insert.
  instructions.innerHTML = lab.instructions_html;

  // A trainee in classroom mode grades as their own site, and only that.
  const ownSite = session.role === "trainee" ? session.site : null;
  const site = el("input", { id: "grade-site", name: "site", required: true, pattern: "[a-z0-9][a-z0-9-]{0,31}", autocomplete: "username",
    value: ownSite || localStorage.getItem(SITE_KEY) || "", readonly: Boolean(ownSite), "aria-describedby": "grade-site-hint" });
  const file = el("input", { id: "grade-file", type: "file", accept: ".py,text/x-python" });
  const upload = el("input", { type: "radio", name: "solution", value: "upload", id: "sol-upload", checked: true });
  const reference = el("input", { type: "radio", name: "solution", value: "reference", id: "sol-reference", disabled: !lab.has_reference || Boolean(ownSite) });
  const button = el("button", { type: "submit", class: "primary", id: "grade-start", text: STRINGS.startGrading });
  const formError = el("p", { class: "error", role: "alert", hidden: true });
  const result = el("section", { class: "run", "aria-live": "polite", id: "run" });
  const history = el("div", { id: "lab-history" });
  const syncFile = () => { file.disabled = !upload.checked; };
  upload.addEventListener("change", syncFile);
  reference.addEventListener("change", syncFile);

  const form = el("form", { class: "grade-form", novalidate: true },
    el("label", { for: "grade-site", text: STRINGS.siteLabel }), site,
    el("p", { class: "hint", id: "grade-site-hint", text: ownSite ? STRINGS.siteFixed : STRINGS.siteHint }),
    el("fieldset", {}, el("legend", { text: STRINGS.solutionLabel }),
      el("div", { class: "radio" }, upload, el("label", { for: "sol-upload", text: STRINGS.solutionUpload })),
      el("div", { class: "file-row" }, el("label", { for: "grade-file", class: "visually-hidden", text: STRINGS.fileLabel }), file),
      el("div", { class: "radio" }, reference, el("label", { for: "sol-reference", text: STRINGS.solutionReference }))),
    formError, button);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    formError.hidden = true;
    const body = { site: site.value.trim() };
    if (upload.checked) {
      const chosen = file.files[0];
      if (!chosen) { formError.textContent = STRINGS.chooseFile; formError.hidden = false; file.focus(); return; }
      body.source = await chosen.text();
      body.filename = chosen.name;
    } else body.reference = true;
    button.disabled = true;
    button.textContent = STRINGS.grading;
    try {
      const run = await postJSON(`api/labs/${enc(lab.id)}/runs`, body);
      localStorage.setItem(SITE_KEY, body.site);
      await follow(run.id, result);
      loadHistory(lab, body.site, history);
    } catch (error) {
      formError.textContent = error.message;
      formError.hidden = false;
    } finally {
      button.disabled = false;
      button.textContent = STRINGS.startGrading;
    }
  });

  main.replaceChildren(
    el("div", { class: "page-head" }, el("div", {},
      el("p", { class: "eyebrow" }, el("a", { href: "#/labs", text: STRINGS.labsTitle }), ` · ${lab.number}`),
      el("h1", { text: lab.title }), labFacts(lab))),
    el("div", { class: "lab-grid" },
      instructions,
      el("aside", { class: "side" },
        el("section", { class: "panel", "aria-labelledby": "grade-title" }, el("h2", { id: "grade-title", text: STRINGS.gradeTitle }), form, result),
        el("section", { class: "panel", "aria-labelledby": "history-title" }, el("h2", { id: "history-title", text: STRINGS.yourRuns }), history))));
  loadHistory(lab, site.value.trim(), history);
  site.addEventListener("change", () => loadHistory(lab, site.value.trim(), history));
  return undefined;
}

async function loadHistory(lab, site, host) {
  if (!site) { host.replaceChildren(el("p", { class: "muted", text: STRINGS.noRuns })); return; }
  try {
    const grades = await getJSON(`api/gradebook/grades?site=${enc(site)}&lab_id=${enc(lab.id)}&limit=20`);
    host.replaceChildren(grades.length ? el("ol", { class: "history" }, grades.map((g) => el("li", {},
      el("a", { href: `#/gradebook/${g.id}` }, el("span", { class: `score-pill ${g.passed ? "pass" : g.score ? "partial" : "fail"}`, text: t(STRINGS.scoreOf, { score: g.score, max: g.max_score }) })),
      " ", isoTimeElement(g.started)))) : el("p", { class: "muted", text: STRINGS.noRuns }));
  } catch (error) {
    host.replaceChildren(errorBox("gradebook", error));
  }
}

/** Poll a run until it ends, drawing its progress and then its checks into `host`. */
async function follow(runId, host) {
  for (;;) {
    const run = await getJSON(`api/runs/${runId}`);
    renderRun(run, host);
    if (run.state === "done" || run.state === "failed") return run;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

export function renderRun(run, host) {
  const state = el("p", { class: `run-state run-${run.state}`, "data-state": run.state }, el("span", { class: "spinner", "aria-hidden": "true" }), STRINGS.runState[run.state]);
  const progress = el("details", { class: "progress", open: run.state !== "done" || undefined },
    el("summary", { text: STRINGS.progressTitle }), el("ol", {}, run.progress.map((line) => el("li", { text: line }))));
  const parts = [state];
  if (run.error) parts.push(el("p", { class: "error", text: run.error }));
  if (run.result) parts.push(...resultView(run.result, run.grade_id));
  // While the grader evaluates, each check appears as soon as it is decided.
  else if (run.checks?.length) parts.push(checkList(run.checks));
  parts.push(progress);
  host.replaceChildren(...parts);
}

function checkList(checks) {
  return el("ol", { class: "checks", "aria-label": STRINGS.checksTitle, "aria-live": "polite" }, checks.map((c) => el("li", { class: `check ${c.passed ? "pass" : "fail"}` },
    el("span", { class: "check-mark", "aria-hidden": "true", text: c.passed ? "✓" : "✗" }),
    el("p", { class: "check-title" }, el("span", { class: "visually-hidden", text: c.passed ? STRINGS.checkPassed : STRINGS.checkFailed }), c.title),
    el("span", { class: "check-points", text: t(STRINGS.points, { points: c.points, max: c.max_points }) }),
    !c.passed && c.feedback ? el("p", { class: "feedback", text: c.feedback }) : null)));
}

export function resultView(result, gradeId) {
  const passed = result.score === result.max_score;
  const score = el("div", { class: `score ${passed ? "pass" : result.score ? "partial" : "fail"}`, id: "score" },
    el("span", { class: "score-label", text: STRINGS.score }),
    el("span", { class: "score-value", text: t(STRINGS.scoreOf, { score: result.score, max: result.max_score }) }),
    el("span", { class: "score-verdict", text: passed ? STRINGS.fullMarks : STRINGS.fixAndRetry }));
  const out = [score, checkList(result.checks)];
  const stderr = result.solution?.stderr_tail || [];
  if (!passed && stderr.length) out.push(el("details", { class: "stderr" }, el("summary", { text: STRINGS.programOutput }), el("pre", { text: stderr.join("\n") })));
  if (gradeId) out.push(el("p", {}, el("a", { href: `#/gradebook/${gradeId}`, text: `${STRINGS.detail} →` })));
  return out;
}
