// Instructors only (classroom mode): every account of the classroom, and resetting a
// trainee's login password. The new password is shown once, here, to give to the trainee.
import { STRINGS } from "../strings.js";
import { el, t, getJSON, postJSON, enc, errorBox } from "../dom.js";

export async function accountsPage(main) {
  let accounts;
  try {
    accounts = await getJSON("api/accounts");
  } catch (error) {
    main.replaceChildren(el("h1", { text: STRINGS.accountsTitle }), errorBox(STRINGS.accountsTitle, error));
    return undefined;
  }
  const shown = el("p", { class: "notice", id: "reset-result", role: "status", hidden: true });
  const row = (a) => {
    const button = el("button", { type: "button", "data-reset": a.username, text: STRINGS.resetPassword, disabled: !a.active });
    button.addEventListener("click", async () => {
      if (!confirm(t(STRINGS.resetConfirm, { name: a.name || a.username }))) return;
      button.disabled = true;
      try {
        const reset = await postJSON(`api/accounts/${enc(a.username)}/password-reset`, {});
        shown.replaceChildren(t(STRINGS.resetDone, { username: reset.username }), " ", el("code", { text: reset.password }));
        shown.className = "notice";
      } catch (error) {
        shown.replaceChildren(error.message);
        shown.className = "error";
      } finally {
        shown.hidden = false;
        button.disabled = false;
      }
    });
    return el("tr", { "data-username": a.username },
      el("th", { scope: "row" }, el("code", { text: a.username })),
      el("td", { text: a.name }),
      el("td", { text: STRINGS.roles[a.role] || a.role }),
      el("td", {}, a.site ? el("code", { text: a.site }) : el("span", { class: "muted", text: "–" })),
      el("td", { text: a.cohort || "–" }),
      el("td", {}, el("span", { class: `badge badge-${a.active ? "online" : "offline"}`, text: a.active ? STRINGS.accountActive : STRINGS.accountRevoked })),
      el("td", {}, button));
  };
  main.replaceChildren(
    el("div", { class: "page-head" }, el("div", {}, el("h1", { text: STRINGS.accountsTitle }), el("p", { class: "muted", text: STRINGS.accountsIntro }))),
    shown,
    el("section", { class: "panel" }, el("div", { class: "table-wrap" }, el("table", { class: "data" },
      el("thead", {}, el("tr", {}, [STRINGS.colUsername, STRINGS.colName, STRINGS.colRole, STRINGS.colSite, STRINGS.colCohort, STRINGS.colAccount, ""].map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", {}, accounts.map(row))))));
  return undefined;
}
