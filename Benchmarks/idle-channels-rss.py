#!/usr/bin/env python3
"""Does an idle channel cost nothing? (durable-engine issue): publish once to N distinct channels, wait out the history
TTL and the engine's sweep, and compare the server's RSS with where it started. Per engine, --runs times, a fresh
release server and data directory each time. Prints one JSON line per run and the medians.

    python3 Benchmarks/idle-channels-rss.py [--engines memory,sqlite] [--channels 100000] [--ttl 5] [--runs 3]

"Start" is the RSS after a warm-up publish to one channel (so lazily made thread pools and the database exist) or,
with --warmup-channels, after a first wave of other channels has expired (the process's steady size);
"after" is sampled once a second after the TTL has passed, until it stops falling (at most 40 s): a measurement
wait, not a synchronisation.
"""
import argparse, json, os, statistics, sys, tempfile, time, urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from release_server import API_KEY, DEFAULT_BINARY, release_server, rss_kb

def post(port, body):
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/publish", data=json.dumps(body).encode(),
                                     headers={"authorization": f"apikey {API_KEY}", "content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        assert answer.status == 200, answer.status

def publish_once_each(port, prefix, channels):
    for first in range(0, channels, 1000):
        post(port, {"publications": [{"channel": f"{prefix}:{n}", "data": {"n": n}} for n in range(first, min(channels, first + 1000))]})

def settle(pid, ttl):
    """RSS once it stops falling after the TTL (sampled each second, at most 40 s)."""
    time.sleep(ttl)
    samples = [rss_kb(pid)]
    for _ in range(40):
        time.sleep(1)
        samples.append(rss_kb(pid))
        if len(samples) > 12 and samples[-1] >= samples[-12]:
            break
    return samples[-1]

def run_once(binary, engine, channels, ttl, warmup):
    settings = [f"engine.type={engine}", "engine.sqlite.path=" + tempfile.mkdtemp(prefix="switchboard-bench-"),
                f"channel_defaults.history_ttl_seconds={ttl}", "limits.publishes_per_second_per_user=0",
                "limits.publishes_per_second_per_channel=0"]
    with release_server(binary, settings) as (server, port):
        post(port, {"channel": "warmup", "data": 1})
        if warmup:
            publish_once_each(port, "warmup", warmup)
            start = settle(server.pid, ttl)
        else:
            time.sleep(ttl + 2)
            start = rss_kb(server.pid)
        publish_once_each(port, "idle", channels)
        peak = rss_kb(server.pid)
        after = settle(server.pid, ttl)
    return {"engine": engine, "channels": channels, "warmup_channels": warmup, "start_kb": start, "peak_kb": peak, "after_kb": after,
            "after_vs_start_pct": round((after - start) * 100 / start, 1)}

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--engines", default="memory,sqlite")
    ap.add_argument("--channels", type=int, default=100_000)
    ap.add_argument("--ttl", type=int, default=5)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--warmup-channels", type=int, default=0,
                    help="publish once to this many other channels and let them expire before measuring the start")
    ap.add_argument("--binary", default=DEFAULT_BINARY)
    args = ap.parse_args()
    results = []
    for _ in range(args.runs):
        for engine in args.engines.split(","):
            result = run_once(args.binary, engine, args.channels, args.ttl, args.warmup_channels)
            print(json.dumps(result), flush=True)
            results.append(result)
    for engine in args.engines.split(","):
        mine = [r for r in results if r["engine"] == engine]
        print(f"{engine:7} start {statistics.median(r['start_kb'] for r in mine):>8.0f} KiB  peak {statistics.median(r['peak_kb'] for r in mine):>8.0f}"
              f"  after {statistics.median(r['after_kb'] for r in mine):>8.0f}  after-vs-start {statistics.median(r['after_vs_start_pct'] for r in mine):+.1f} %")

if __name__ == "__main__":
    main()
