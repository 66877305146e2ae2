# The store tests run against real servers: Debian's influxdb (1.x) and
# victoria-metrics (it accepts InfluxDB's v2 write API). Sourced by ./run-tests.
missing=()
command -v influxd >/dev/null || [ -x /usr/bin/influxd ] || missing+=(influxdb)
command -v victoria-metrics >/dev/null || [ -x /usr/bin/victoria-metrics ] || missing+=(victoria-metrics)
if [ "${#missing[@]}" -gt 0 ]; then
    as_root_apt "${missing[@]}" || { say "the store tests need: ${missing[*]}"; exit 1; }
fi
# Debian starts both as services on their default ports; the tests start
# their own on free ports, so the packaged services are not needed.
unset missing
