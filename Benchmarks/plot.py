#!/usr/bin/env python3
"""Summarise `switchboard bench --json` reports: a Markdown table of medians per (target, scenario) on stdout, and PNG
charts (server CPU per delivery, p99 latency, memory per connection) next to the reports when matplotlib is there.

Usage: python3 Benchmarks/plot.py artifacts/bench
Report files are named TARGET-TRANSPORT-COUNT-runN.json (as Benchmarks/side-by-side.sh writes them).
"""
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path


def load(directory):
    groups = defaultdict(list)
    for path in sorted(Path(directory).glob("*-run*.json")):
        target, transport, count, _ = path.stem.split("-", 3)
        try:
            report = json.loads(path.read_text())
        except json.JSONDecodeError:
            continue
        groups[(transport, int(count), target)].append(report)
    return groups


def median(reports, pick):
    values = [pick(r) for r in reports if pick(r) is not None]
    return statistics.median(values) if values else float("nan")


def summarise(groups):
    rows = []
    for (transport, count, target), reports in sorted(groups.items()):
        server = lambda r, key: (r.get("server") or {}).get(key)
        rows.append({
            "scenario": f"{count} {'WebSocket' if transport == 'ws' else 'SSE'}",
            "target": target,
            "runs": len(reports),
            "cpu_us": median(reports, lambda r: server(r, "cpuMicrosPerDelivery")),
            "p50": median(reports, lambda r: r["latencyMillis"]["p50"]),
            "p90": median(reports, lambda r: r["latencyMillis"]["p90"]),
            "p999": median(reports, lambda r: r["latencyMillis"]["p999"]),
            "p99": median(reports, lambda r: r["latencyMillis"]["p99"]),
            "max": median(reports, lambda r: r["latencyMillis"]["max"]),
            "lost": sum(r["lost"] for r in reports),
            "dup": sum(r["duplicated"] for r in reports),
            "failed": sum(r["failed"] for r in reports),
            "bytes": median(reports, lambda r: server(r, "bytesPerConnection")),
            "bench": median(reports, lambda r: r["benchCPUUtilisation"] * 100),
            "valid": all(r["valid"] for r in reports),
        })
    return rows


def print_table(rows):
    print("| scenario | server | runs | server CPU µs/delivery | p50 ms | p99 ms | max ms | lost | dup | failed conns | RSS B/conn | bench CPU % | valid |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['scenario']} | {r['target']} | {r['runs']} | {r['cpu_us']:.2f} | {r['p50']:.2f} | {r['p99']:.2f} | "
              f"{r['max']:.1f} | {r['lost']} | {r['dup']} | {r['failed']} | {r['bytes']:.0f} | {r['bench']:.0f} | "
              f"{'yes' if r['valid'] else 'NO'} |")


def plot(rows, directory):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib not installed: no charts)", file=sys.stderr)
        return
    scenarios = sorted({r["scenario"] for r in rows}, key=lambda s: (s.split()[1], int(s.split()[0])))
    targets = sorted({r["target"] for r in rows})
    for key, label, name in [("cpu_us", "server CPU µs per delivery", "cpu-per-delivery.png"),
                             ("p99", "p99 delivery latency (ms)", "p99-latency.png"),
                             ("bytes", "server RSS bytes per connection", "bytes-per-connection.png")]:
        figure, axes = plt.subplots(figsize=(7, 3.5))
        width = 0.8 / max(1, len(targets))
        for i, target in enumerate(targets):
            values = [next((r[key] for r in rows if r["scenario"] == s and r["target"] == target), 0) for s in scenarios]
            axes.bar([x + i * width for x in range(len(scenarios))], values, width, label=target)
        axes.set_xticks([x + width * (len(targets) - 1) / 2 for x in range(len(scenarios))], scenarios)
        axes.set_ylabel(label)
        axes.legend()
        figure.tight_layout()
        figure.savefig(Path(directory) / name, dpi=110)
        plt.close(figure)
    # Latency percentiles per scenario and server, log scale (the servers differ by orders of magnitude when one
    # falls behind).
    percentiles = [("p50", "p50"), ("p90", "p90"), ("p99", "p99"), ("p999", "p99.9"), ("max", "max")]
    figure, panels = plt.subplots(1, len(scenarios), figsize=(3.2 * len(scenarios), 3.5), squeeze=False)
    for panel, scenario in zip(panels[0], scenarios):
        for target in targets:
            row = next((r for r in rows if r["scenario"] == scenario and r["target"] == target), None)
            if row:
                panel.plot([label for _, label in percentiles], [max(row[key], 0.01) for key, _ in percentiles], marker="o", label=target)
        panel.set_yscale("log")
        panel.set_title(scenario)
        panel.set_ylabel("delivery latency (ms)")
        panel.legend()
    figure.tight_layout()
    figure.savefig(Path(directory) / "latency-percentiles.png", dpi=110)
    plt.close(figure)


if __name__ == "__main__":
    directory = sys.argv[1] if len(sys.argv) > 1 else "artifacts/bench"
    rows = summarise(load(directory))
    print_table(rows)
    plot(rows, directory)
