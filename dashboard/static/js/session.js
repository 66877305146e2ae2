// Who is using the page. In classroom mode the dashboard has accounts: /api/session says who is
// logged in and gives the CSRF token that every state-changing request sends back. In open mode
// (a trainee at home) there is nobody to name and everything is visible.
import { getJSON, setCsrf } from "./dom.js";

export const session = { mode: "open", username: null, name: "", role: "open", site: null, shared_site: "city", csrf: "" };

export async function loadSession() {
  Object.assign(session, await getJSON("api/session"));
  setCsrf(session.csrf);
  return session;
}

export const isClassroom = () => session.mode === "classroom";
export const isInstructor = () => session.role === "instructor" || session.role === "open";
