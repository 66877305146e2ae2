# The browser tests drive Debian's chromium with Playwright for Python (a pip
# package from the test extras). Chromium comes from apt, never from
# 'playwright install', which downloads a browser from the internet.
if ! command -v chromium >/dev/null && [ ! -x /usr/bin/chromium ]; then
    as_root_apt chromium || { say "the browser tests need Debian's chromium: apt-get install chromium"; exit 1; }
fi
