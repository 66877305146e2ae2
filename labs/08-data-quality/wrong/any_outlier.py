"""Lab 08, known-wrong: any reading a few degrees off makes a sensor faulty.

Healthy sensors have the odd glitch too, so this flags many of them as
'outliers': its precision falls below 0.8. It still finds every faulty
sensor with its right kind: it must lose exactly the precision check.
"""

import json
import os
import statistics
from collections import defaultdict

STUCK_READINGS = 12  # 3 h of one repeated value
MISSING_READINGS = 8  # 2 h of readings lost in all
SPIKE_C = 5.0  # a reading this far from its neighbours is an outlier...
SPIKES = 3  # ...and this many of them make a faulty sensor (one is a glitch)
DRIFT_C = 1.0  # change of the gap to the fleet between the first and the last quarter


def main():
    readings = defaultdict(dict)  # sensor -> time -> value
    by_time = defaultdict(list)
    with open(os.environ["CITYLAB_INPUT"]) as f:
        for line in f:
            row = json.loads(line)
            readings[row["sensor"]][row["time"]] = row["value"]
            by_time[row["time"]].append(row["value"])
    times = sorted(by_time)
    fleet = {t: statistics.median(v) for t, v in by_time.items()}  # the fleet's median: robust to the faulty
    quarter = len(times) // 4
    faulty = []
    for sensor, series in sorted(readings.items()):
        mine = [t for t in times if t in series]
        values = [series[t] for t in mine]
        gap = [series[t] - fleet[t] for t in mine]
        longest = run = 1
        for a, b in zip(values, values[1:]):
            run = run + 1 if a == b else 1
            longest = max(longest, run)
        # How far each gap is from the median of the gaps around it: a spike stands out of its neighbours.
        jumps = [abs(gap[i] - statistics.median(gap[max(0, i - 3): i + 4])) for i in range(len(gap))]
        spikes = sum(1 for jump in jumps if jump > SPIKE_C)
        first = statistics.median(series[t] - fleet[t] for t in times[:quarter] if t in series)
        last = statistics.median(series[t] - fleet[t] for t in times[-quarter:] if t in series)
        if longest >= STUCK_READINGS:
            kind = "stuck"
        elif len(times) - len(mine) >= MISSING_READINGS:
            kind = "dropout"
        elif spikes >= SPIKES:
            kind = "outliers"
        elif abs(last - first) >= DRIFT_C:
            kind = "drift"
        elif any(jump > 2.5 for jump in jumps):
            kind = "outliers"
        else:
            continue
        faulty.append({"sensor": sensor, "fault": kind})
    with open(os.environ["CITYLAB_OUTPUT"], "w") as f:
        json.dump({"faulty": faulty}, f)


if __name__ == "__main__":
    main()
