# The tests run against a real Mosquitto: Debian's package.
if ! command -v mosquitto >/dev/null && [ ! -x /usr/sbin/mosquitto ]; then
    as_root_apt mosquitto mosquitto-clients || { say "the tests need a real Mosquitto broker"; exit 1; }
fi
