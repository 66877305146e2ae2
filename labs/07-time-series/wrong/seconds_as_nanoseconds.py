"""Lab 07, known-wrong: writes times in seconds without saying so (no precision=s).

InfluxDB reads a bare timestamp as nanoseconds, so every point lands in the
first two seconds of 1970 and the queries over the data's own days find
nothing. Keeps the points-and-tags check only (2 of 10 points); the others
point at the cause.
"""

import json
import os
import urllib.error
import urllib.parse
import urllib.request

URL = os.environ.get("CITYLAB_INFLUX_URL", "http://localhost:8086").rstrip("/")
DB = os.environ.get("CITYLAB_INFLUX_DB", "lab07")
USER = os.environ.get("CITYLAB_INFLUX_USER", "")
PASSWORD = os.environ.get("CITYLAB_INFLUX_PASSWORD", "")
CHUNK = 5000  # lines per write request: InfluxDB's own advice is 5,000 to 10,000


def influx(path, params, body=None):
    """One request to InfluxDB; the answer's bytes. Credentials go in the query string (1.x)."""
    auth = {"u": USER, "p": PASSWORD} if USER else {}
    url = f"{URL}{path}?{urllib.parse.urlencode({**auth, **params})}"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=body), timeout=30) as response:
            return response.read()
    except urllib.error.HTTPError as exc:
        raise SystemExit(f"InfluxDB answered {exc.code} to {path}: {exc.read()[:300]!r}")


def query(text):
    """The series of an InfluxQL statement, times as RFC 3339 text ("2025-10-06T08:00:00Z")."""
    body = urllib.parse.urlencode({"q": text}).encode()
    results = json.loads(influx("/query", {"db": DB}, body))["results"]
    for result in results:
        if "error" in result:
            raise SystemExit(f"InfluxDB refused {text!r}: {result['error']}")
    return [series for result in results for series in result.get("series", [])]


def tag(value):
    """A tag value in line protocol: commas, spaces and equals signs are escaped."""
    return str(value).replace(",", r"\,").replace(" ", r"\ ").replace("=", r"\=")


def line(row):
    """One reading as one point: measurement,tags fields timestamp (in seconds)."""
    tags = f"{row['type']},device={tag(row['device'])},district={tag(row['district'])}"
    if row["type"] == "weather":
        fields = f"temperature={float(row['temperature'])},humidity={float(row['humidity'])}"
    else:
        fields = f"vehicles={int(row['vehicles'])}i"  # "i": an integer field, as a count is
    return f"{tags} {fields} {int(row['time'])}"


def main():
    with open(os.environ["CITYLAB_INPUT"], encoding="utf-8") as source:
        rows = [json.loads(text) for text in source if text.strip()]

    # 1-2. Every reading as a point, with its own time; precision=s because the times are in seconds.
    lines = [line(row) for row in rows]
    for start in range(0, len(lines), CHUNK):
        influx("/write", {"db": DB}, ("\n".join(lines[start:start + CHUNK]) + "\n").encode())

    # The time range of the data: GROUP BY time() needs one, or it runs up to now() in empty hours.
    first, last = min(r["time"] for r in rows), max(r["time"] for r in rows)
    where = f"time >= {first // 3600 * 3600}s AND time < {(last // 3600 + 1) * 3600}s"

    # 3. Hourly mean temperature per station.
    hourly = {}
    for series in query(f'SELECT mean("temperature") FROM "weather" WHERE {where} '
                        f'GROUP BY time(1h), "device" fill(none)'):
        hourly[series["tags"]["device"]] = {t: round(v, 3) for t, v in series["values"]}

    # 4. Downsample: 15-minute means into their own measurement. "GROUP BY *" keeps the
    # tags as tags; without it every station would be averaged into one series.
    query(f'SELECT mean("temperature") AS "temperature", mean("humidity") AS "humidity" INTO "weather_15m" '
          f'FROM "weather" WHERE {where} GROUP BY time(15m), * fill(none)')

    # 5. Busiest hour per counter: the most vehicles in all (sum), not the highest mean per reading.
    busiest = {}
    for series in query(f'SELECT top("sum", 1) AS "vehicles" FROM (SELECT sum("vehicles") FROM "traffic" '
                        f'WHERE {where} GROUP BY time(1h), "device") GROUP BY "device"'):
        time, vehicles = series["values"][0]
        busiest[series["tags"]["device"]] = {"time": time, "vehicles": vehicles}

    with open(os.environ["CITYLAB_OUTPUT"], "w", encoding="utf-8") as out:
        json.dump({"hourly_temperature": hourly, "busiest_hour": busiest}, out, indent=1)


if __name__ == "__main__":
    main()
