"""Lab 05: the European Air Quality Index. Fill in the TODOs, then grade with

    citylab grade 05-air-quality-index --site YOUR_SITE --solution analysis.py

The grader sets CITYLAB_INPUT (your dataset, a CSV file) and CITYLAB_OUTPUT
(where your answer goes, as JSON). To try it yourself first, set them by hand.
"""

import csv
import json
import os
from collections import defaultdict

# TODO 1: the EEA's bands: upper bounds (ug/m3) of Good, Fair, Moderate, Poor, Very poor.
THRESHOLDS = {"pm2_5": (), "pm10": (), "no2": (), "o3": ()}
NAMES = ["Good", "Fair", "Moderate", "Poor", "Very poor", "Extremely poor"]


def band(pollutant, value):
    """TODO 2: the index in NAMES of the band ``value`` falls in."""
    raise NotImplementedError("TODO 2: band()")


def main():
    series = defaultdict(list)  # station -> its rows
    with open(os.environ["CITYLAB_INPUT"], newline="") as f:
        for row in csv.DictReader(f):
            series[row["station"]].append(row)
    hours, alerts = [], []
    for station, rows in series.items():
        rows.sort(key=lambda r: r["time"])
        # TODO 3: for each hour from the 24th on: the 24-h running means of PM2.5 and PM10,
        # the band of each pollutant, the index, and an alert when the index crosses into Poor.
    with open(os.environ["CITYLAB_OUTPUT"], "w") as f:
        json.dump({"hours": hours, "alerts": alerts}, f)


if __name__ == "__main__":
    main()
