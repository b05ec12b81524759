#!/usr/bin/env python3
"""Publish throughput of one engine against another (durable-engine issue): the release server pinned to CPU 0, wrk
on CPU 1 posting to `POST /api/publish` over keep-alive connections.

- `single`: one publication per request (`{"channel":"bench:N","data":{…}}`, 100 channels round-robin per connection).
- `batch`: `{"publications":[…]}` with --batch publications per request.

Each (engine, mode) runs --runs times, interleaved, a fresh server and data directory per run; prints one JSON line per
run and a summary of medians (publications per second answered 200). wrk counts a non-2xx answer as an error; any
error fails the run.

    python3 Benchmarks/engine-publish.py [--engines memory,sqlite] [--modes single,batch] [--runs 3] [--duration 10]
"""
import argparse, json, os, re, statistics, subprocess, sys, tempfile

sys.path.insert(0, os.path.dirname(__file__))
from release_server import API_KEY, DEFAULT_BINARY, release_server

LUA = r"""
local batch = tonumber(os.getenv("BATCH") or "0")
local counter = 0
request = function()
  counter = counter + 1
  local body
  if batch > 0 then
    local items = {}
    for i = 1, batch do
      items[i] = string.format('{"channel":"bench:%d","data":{"n":%d,"pad":"%s"}}', (counter * batch + i) %% 100, i, string.rep("x", 64))
    end
    body = '{"publications":[' .. table.concat(items, ",") .. ']}'
  else
    body = string.format('{"channel":"bench:%d","data":{"n":%d,"pad":"%s"}}', counter %% 100, counter, string.rep("x", 64))
  end
  return wrk.format("POST", "/api/publish", {["authorization"] = "apikey KEY", ["content-type"] = "application/json"}, body)
end
""".replace("KEY", API_KEY).replace("%%", "%")

def run_once(binary, engine, mode, duration, connections, batch):
    settings = ["limits.publishes_per_second_per_user=0", "limits.publishes_per_second_per_channel=0",
                f"engine.type={engine}", "engine.sqlite.path=" + tempfile.mkdtemp(prefix="switchboard-bench-"),
                "limits.max_message_bytes=16777216"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(LUA)
    with release_server(binary, settings, cpu=0) as (server, port):
        env = dict(os.environ, BATCH=str(batch if mode == "batch" else 0))
        done = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", f"-c{connections}", f"-d{duration}s", "-s", script.name,
                               f"http://127.0.0.1:{port}"], capture_output=True, text=True, env=env, timeout=duration + 60)
    out = done.stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    seconds = float(re.search(r"requests in ([\d.]+)s", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    latency = re.search(r"Latency\s+([\d.]+)(\w+)", out)
    per_request = batch if mode == "batch" else 1
    return {"engine": engine, "mode": mode, "connections": connections, "batch": per_request,
            "publications_per_s": round(requests * per_request / seconds), "requests": requests,
            "non_2xx": int(errors.group(1)) if errors else 0, "mean_latency": latency.group(1) + latency.group(2) if latency else None}

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--engines", default="memory,sqlite")
    ap.add_argument("--modes", default="single,batch")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--binary", default=DEFAULT_BINARY)
    args = ap.parse_args()
    results = []
    for _ in range(args.runs):
        for mode in args.modes.split(","):
            for engine in args.engines.split(","):
                result = run_once(args.binary, engine, mode, args.duration, args.connections, args.batch)
                print(json.dumps(result), flush=True)
                results.append(result)
    print("# medians (publications/s answered 200)")
    for mode in args.modes.split(","):
        for engine in args.engines.split(","):
            rates = [r["publications_per_s"] for r in results if r["engine"] == engine and r["mode"] == mode]
            errors = sum(r["non_2xx"] for r in results if r["engine"] == engine and r["mode"] == mode)
            print(f"{mode:7} {engine:7} median {statistics.median(rates):>9.0f}  runs {rates}  non-2xx {errors}")

if __name__ == "__main__":
    main()
