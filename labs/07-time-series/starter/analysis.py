"""Lab 07 starter: telemetry into InfluxDB 1.x, questions answered with InfluxQL.

Fill in the numbered TODOs in order; README.md explains each step. The HTTP
plumbing is done for you (standard library only, nothing to install):
``influx_write(lines)`` sends line protocol to /write, ``query(text)`` sends
InfluxQL to /query and returns its series.

Try it against your own InfluxDB (see README.md, "Your own InfluxDB")::

    CITYLAB_INPUT=input.jsonl CITYLAB_OUTPUT=answer.json \
    CITYLAB_INFLUX_URL=http://localhost:8086 CITYLAB_INFLUX_DB=lab07 python analysis.py

then grade it:  citylab grade 07 --site YOUR-SITE --solution analysis.py
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


def influx(path, params, body=None):
    """One request to InfluxDB; the answer's bytes. Credentials go in the query string (1.x)."""
    auth = {"u": USER, "p": PASSWORD} if USER else {}
    url = f"{URL}{path}?{urllib.parse.urlencode({**auth, **params})}"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=body), timeout=30) as response:
            return response.read()
    except urllib.error.HTTPError as exc:
        raise SystemExit(f"InfluxDB answered {exc.code} to {path}: {exc.read()[:300]!r}")


def influx_write(lines, params):
    """POST line protocol to /write. ``params`` are the query parameters, like {"db": DB}."""
    influx("/write", params, ("\n".join(lines) + "\n").encode())


def query(text):
    """The series of an InfluxQL statement: [{"name", "tags", "columns", "values"}, ...].

    Times come back as RFC 3339 text in UTC, like "2025-10-06T08:00:00Z".
    """
    body = urllib.parse.urlencode({"q": text}).encode()
    results = json.loads(influx("/query", {"db": DB}, body))["results"]
    for result in results:
        if "error" in result:
            raise SystemExit(f"InfluxDB refused {text!r}: {result['error']}")
    return [series for result in results for series in result.get("series", [])]


def line(row):
    """One reading as one point of line protocol."""
    # TODO 1: return the line for this row:
    #   measurement,tag=value,tag=value field=value,field=value timestamp
    # The measurement is row["type"] ("weather" or "traffic"); device and district are tags;
    # a weather row has the fields temperature and humidity, a traffic row the integer field
    # vehicles (an integer is written with an "i": vehicles=42i); the timestamp is row["time"].
    raise NotImplementedError("TODO 1")


def main():
    with open(os.environ["CITYLAB_INPUT"], encoding="utf-8") as source:
        rows = [json.loads(text) for text in source if text.strip()]

    # TODO 2: write every row into the database DB with influx_write(...), a few thousand lines
    # per request. Look at the unit of row["time"] and tell InfluxDB which precision it is.

    # TODO 3: the hourly mean temperature of each weather station, with one InfluxQL query
    # (GROUP BY time(1h) and the device tag; give a WHERE time range and fill(none)).
    hourly = {}  # {"env-01": {"2025-10-06T00:00:00Z": 12.34, ...}, ...}

    # TODO 4: downsample: write the 15-minute means of temperature and humidity of each station
    # INTO the measurement "weather_15m", fields named temperature and humidity, tags kept.

    # TODO 5: the busiest hour of each traffic counter: the hour with the most vehicles.
    busiest = {}  # {"tc-01": {"time": "2025-10-06T17:00:00Z", "vehicles": 1234}, ...}

    # TODO 6: the answer is written for you: check its shape against README.md.
    with open(os.environ["CITYLAB_OUTPUT"], "w", encoding="utf-8") as out:
        json.dump({"hourly_temperature": hourly, "busiest_hour": busiest}, out, indent=1)


if __name__ == "__main__":
    main()
