#!/usr/bin/env python3
"""Summary of a Benchmarks/before-after.sh directory: per scenario and build, the median (and range) of server CPU
per delivery, p50 and p99 publish-to-delivery latency, RSS per connection, and the loss, plus after/before in percent.

    python3 Benchmarks/before-after-summary.py DIR
"""
import glob, json, os, re, statistics, sys

NAME = re.compile(r"(before|after)-r(\d+)-(\w+)-(\d+)\.json$")
COLUMNS = [("CPU µs/delivery", lambda r: r["server"]["cpuMicrosPerDelivery"], "{:.2f}"),
           ("p50 ms", lambda r: r["latencyMillis"]["p50"], "{:,.0f}"),
           ("p99 ms", lambda r: r["latencyMillis"]["p99"], "{:,.0f}"),
           ("RSS B/conn", lambda r: r["server"]["bytesPerConnection"], "{:,.0f}")]


def load(directory):
    runs = {}
    for path in sorted(glob.glob(os.path.join(directory, "*.json"))):
        match = NAME.search(os.path.basename(path))
        if not match:
            continue
        build, _, transport, count = match.groups()
        with open(path) as file:
            text = file.read().strip()
        if not text:
            continue
        runs.setdefault((f"{transport}:{count}", build), []).append(json.loads(text))
    return runs


def main():
    runs = load(sys.argv[1])
    print("| scenario, build | runs | " + " | ".join(name for name, _, _ in COLUMNS) + " | lost |")
    print("|---" * (len(COLUMNS) + 3) + "|")
    for scenario in sorted({scenario for scenario, _ in runs}):
        medians = {}
        for build in ("before", "after"):
            reports = runs.get((scenario, build), [])
            if not reports:
                continue
            cells = []
            for name, value, form in COLUMNS:
                values = [value(report) for report in reports]
                medians[(build, name)] = statistics.median(values)
                cells.append(f"**{form.format(statistics.median(values))}** ({form.format(min(values))}–{form.format(max(values))})")
            lost = sum(report["lost"] for report in reports)
            print(f"| {scenario}, {build} | {len(reports)} | " + " | ".join(cells) + f" | {lost} |")
        if all((build, COLUMNS[0][0]) in medians for build in ("before", "after")):
            changes = [f"{(medians[('after', name)] / medians[('before', name)] - 1) * 100:+.1f} %" for name, _, _ in COLUMNS]
            print(f"| {scenario}, after vs before | | " + " | ".join(changes) + " | |")


if __name__ == "__main__":
    main()
