"""Lab 08: find the faulty sensors. Fill in the TODOs, then grade with

    citylab grade 08-data-quality --site YOUR_SITE --solution analysis.py

The grader sets CITYLAB_INPUT (your dataset, JSON lines: one reading a line)
and CITYLAB_OUTPUT (where your answer goes, as JSON).
"""

import json
import os
from collections import defaultdict


def main():
    readings = defaultdict(dict)  # sensor -> time -> value
    with open(os.environ["CITYLAB_INPUT"]) as f:
        for line in f:
            row = json.loads(line)
            readings[row["sensor"]][row["time"]] = row["value"]
    faulty = []
    for sensor, series in sorted(readings.items()):
        # TODO 1: stuck: the same value for 3 hours or more?
        # TODO 2: dropout: 2 hours or more of readings missing in all?
        # TODO 3: outliers: 3 or more readings far (5 degrees) from their neighbours?
        # TODO 4: drift: does its gap to the rest of the fleet change by 1 degree or more?
        pass  # faulty.append({"sensor": sensor, "fault": "stuck"})
    with open(os.environ["CITYLAB_OUTPUT"], "w") as f:
        json.dump({"faulty": faulty}, f)


if __name__ == "__main__":
    main()
