"""Lab 05, known-wrong: bands PM on the hour's concentration, not on the 24-h running mean.

Everything else is right (bands of the values it reports, the index as the
worst band, alerts on crossings): it must lose exactly the running-means check.
"""

import csv
import json
import os
from collections import defaultdict

# Upper bounds (ug/m3, inclusive) of Good, Fair, Moderate, Poor, Very poor.
THRESHOLDS = {
    "pm2_5": (5, 15, 50, 90, 140),
    "pm10": (15, 45, 120, 195, 270),
    "no2": (10, 25, 60, 100, 150),
    "o3": (60, 100, 120, 160, 180),
}
NAMES = ["Good", "Fair", "Moderate", "Poor", "Very poor", "Extremely poor"]
POOR = NAMES.index("Poor")


def band(pollutant, value):
    """The index of the first band whose upper bound is not below the value."""
    return sum(value > bound for bound in THRESHOLDS[pollutant])


def main():
    series = defaultdict(list)  # station -> rows, in time order
    with open(os.environ["CITYLAB_INPUT"], newline="") as f:
        for row in csv.DictReader(f):
            series[row["station"]].append(row)
    hours, alerts = [], []
    for station, rows in series.items():
        rows.sort(key=lambda r: r["time"])
        previous = 0
        for i in range(23, len(rows)):
            window = rows[i - 23: i + 1]
            value = {
                "pm2_5": float(rows[i]["pm2_5"]),
                "pm10": float(rows[i]["pm10"]),
                "no2": float(rows[i]["no2"]),
                "o3": float(rows[i]["o3"]),
            }
            bands = {p: band(p, v) for p, v in value.items()}
            index = max(bands.values())
            hours.append({
                "station": station, "time": rows[i]["time"],
                "pm2_5_24h": round(value["pm2_5"], 2), "pm10_24h": round(value["pm10"], 2),
                "bands": {p: NAMES[b] for p, b in bands.items()}, "index": NAMES[index],
            })
            # An alert when the index crosses into Poor or worse, not every poor hour.
            if index >= POOR > previous:
                alerts.append({"station": station, "time": rows[i]["time"], "index": NAMES[index]})
            previous = index
    with open(os.environ["CITYLAB_OUTPUT"], "w") as f:
        json.dump({"hours": hours, "alerts": alerts}, f)


if __name__ == "__main__":
    main()
