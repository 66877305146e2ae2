"""The login page of classroom mode, rendered on the server (it must work before any script runs).

It uses the dashboard's own style sheet and icon, nothing from elsewhere,
under the same Content-Security-Policy as the page. Every string a person
reads is in ``STRINGS``, as the page's are in ``static/js/strings.js``.
"""

from __future__ import annotations

from html import escape

STRINGS = {
    "title": "Log in · citylab",
    "heading": "Log in to citylab",
    "intro": "Use the username and password your instructor gave you.",
    "username": "Username",
    "password": "Password",
    "submit": "Log in",
    "wrong": "Wrong username or password, or the account was closed. Check both and try again.",
    "limited": "Too many failed attempts. Wait {seconds} s, then try again.",
    "expired": "The form was open too long or came from elsewhere. Try again.",
    "unavailable": "Logging in is not possible right now: {reason}",
    "logged_out": "You are logged out.",
    "help": "Forgot your password? Your instructor can reset it.",
}


def render(*, csrf: str, next_path: str = "/", message: str = "", kind: str = "error", username: str = "",
           root: str = "") -> str:
    """The whole page; ``message`` (a STRINGS text) is shown above the form, ``kind`` error or notice."""
    s = {key: escape(value) for key, value in STRINGS.items()}
    shown = ""
    if message:
        role = "alert" if kind == "error" else "status"
        shown = f'<p class="{kind}" role="{role}" id="login-message">{escape(message)}</p>'
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <meta name="color-scheme" content="light dark">
  <title>{s["title"]}</title>
  <link rel="icon" href="{root}/static/favicon.svg" type="image/svg+xml">
  <link rel="stylesheet" href="{root}/static/app.css">
  <link rel="stylesheet" href="{root}/static/pages.css">
</head>
<body class="login-body">
  <header class="top">
    <div class="brand">
      <img src="{root}/static/favicon.svg" alt="" width="28" height="28">
      <span class="brand-name">citylab</span>
    </div>
  </header>
  <main id="main" class="login">
    <form class="panel login-form" method="post" action="{root}/login">
      <h1>{s["heading"]}</h1>
      <p class="muted">{s["intro"]}</p>
      {shown}
      <input type="hidden" name="csrf_token" value="{escape(csrf)}">
      <input type="hidden" name="next" value="{escape(next_path)}">
      <label class="field" for="username">{s["username"]}
        <input id="username" name="username" type="text" autocomplete="username" autocapitalize="none"
               spellcheck="false" required maxlength="64" value="{escape(username)}"{"" if username else " autofocus"}>
      </label>
      <label class="field" for="password">{s["password"]}
        <input id="password" name="password" type="password" autocomplete="current-password" required
               maxlength="1024"{" autofocus" if username else ""}>
      </label>
      <button class="primary" type="submit">{s["submit"]}</button>
      <p class="hint">{s["help"]}</p>
    </form>
  </main>
</body>
</html>
"""
