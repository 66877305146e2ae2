# Sourced by ./run and ./run-tests: makes .venv with citylab installed in it.
# Usage: bootstrap_venv [extras]   (e.g. "test")
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CITYLAB_VENV:-$ROOT/.venv}"

say() { printf 'citylab: %s\n' "$*" >&2; }

as_root_apt() {
    # Installs Debian packages when we are root; otherwise says what to run.
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        say "installing $* with apt-get"
        # The package lists are fetched once per run, however many steps install.
        if [ -z "${CITYLAB_APT_UPDATED:-}" ]; then
            apt-get update -qq >/dev/null || return 1
            CITYLAB_APT_UPDATED=1
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
    else
        say "please install: sudo apt-get install $*"
        return 1
    fi
}

find_python() {
    for candidate in python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null &&
           "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$candidate"; return 0
        fi
    done
    say "citylab needs Python 3.11 or newer: install it (sudo apt-get install python3) and try again"
    return 1
}

bootstrap_venv() {
    local extras="${1:-}" python spec stamp want
    if [ ! -x "$VENV/bin/python" ]; then
        python="$(find_python)"
        if ! "$python" -m venv "$VENV" >/dev/null 2>&1; then
            rm -rf "$VENV"
            # Debian ships venv apart from Python itself.
            as_root_apt "python3-venv" || exit 1
            "$python" -m venv "$VENV"
        fi
    fi
    spec="$ROOT"; [ -n "$extras" ] && spec="$ROOT[$extras]"
    stamp="$VENV/.citylab-installed"
    want="$(cat "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)-$extras"
    if [ ! -f "$stamp" ] || ! grep -qx -- "$want" "$stamp"; then
        say "installing citylab and its dependencies into $VENV (first run only, about a minute)"
        local log="$VENV/install.log"
        # pip's own chatter goes to a log; a person sees it only if it fails.
        if ! { "$VENV/bin/python" -m pip install --disable-pip-version-check --upgrade pip &&
               "$VENV/bin/python" -m pip install --disable-pip-version-check -e "$spec"; } >"$log" 2>&1; then
            tail -n 20 "$log" >&2
            say "installing the Python packages failed (the whole log is in $log): check the network or proxy and run again"
            exit 1
        fi
        echo "$want" > "$stamp"
    fi
}
