#!/usr/bin/env python3
"""Server memory per channel and after idle channels are reclaimed (hardening issue, "channels are never freed").

Starts the release binary on a free loopback port, publishes one tiny publication to each of N new channels through
the HTTP batch API, and samples the server's RSS (VmRSS of /proc/PID/status): before, after the first wave, after the
history TTL and one sweep have passed, and after a second wave of N other channels. Prints one JSON object.

    python3 Benchmarks/channel-memory.py [--channels 50000] [--ttl 5] [--history-size 100]
"""
import argparse, json, time, urllib.request

from release_server import API_KEY, DEFAULT_BINARY, release_server, rss_kb

def publish_wave(port, key, prefix, count, batch=1000):
    for start in range(0, count, batch):
        pubs = [{"channel": f"chat:{prefix}{n}", "data": {"n": n}} for n in range(start, min(count, start + batch))]
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/publish", data=json.dumps({"publications": pubs}).encode(),
                                     headers={"authorization": f"apikey {key}", "content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            assert r.status == 200, r.status

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--channels", type=int, default=50_000)
    ap.add_argument("--ttl", type=int, default=5)
    ap.add_argument("--history-size", type=int, default=100)
    ap.add_argument("--binary", default=DEFAULT_BINARY)
    args = ap.parse_args()
    key = API_KEY
    settings = [f"channel_defaults.history_ttl_seconds={args.ttl}", f"channel_defaults.history_size={args.history_size}",
                "limits.publishes_per_second_per_user=0", "limits.publishes_per_second_per_channel=0"]
    with release_server(args.binary, settings) as (server, port):
        out = {"channels": args.channels, "history_size": args.history_size, "ttl_s": args.ttl, "rss_kb": {}}
        out["rss_kb"]["start"] = rss_kb(server.pid)
        publish_wave(port, key, "a", args.channels)
        out["rss_kb"]["after_wave_1"] = rss_kb(server.pid)
        # TTL plus one sweep period (10 s) plus a margin: a measurement wait, not test synchronisation.
        time.sleep(args.ttl + 11)
        out["rss_kb"]["after_expiry_and_sweep"] = rss_kb(server.pid)
        publish_wave(port, key, "b", args.channels)
        out["rss_kb"]["after_wave_2"] = rss_kb(server.pid)
        r = out["rss_kb"]
        out["bytes_per_live_channel"] = round((r["after_wave_1"] - r["start"]) * 1024 / args.channels)
        out["wave_2_growth_kb"] = r["after_wave_2"] - r["after_expiry_and_sweep"]
        print(json.dumps(out))

if __name__ == "__main__":
    main()
