#!/usr/bin/env python3
"""Soak (hardening issue): one release server on its default (SQLite) engine under an hour of churn — `make soak`.

    python3 Benchmarks/soak.py [--minutes 60] [--clients 2000] [--channels 200] [--rate 100]

- `--clients` subscribers, a third each on WebSocket, SSE and long-poll, every one on a random channel. Each lives
  through sessions of 5–30 s, and every session ends one of three ways: it closes, it **vanishes** (the socket is
  aborted without a close), or it **goes silent** (stops reading for 10 s, then vanishes). It then comes back and
  resubscribes from the last position it saw (`since`, `Last-Event-ID`), and its record counts every publication lost,
  duplicated or out of order, and every reset (tests/engine/engine_support.py, the same accounting as the kill -9
  tests).
- Publishers post `--rate` publications per second over HTTP, round-robin over the channels.
- A subscriber that never reads (one WebSocket on a channel of its own that gets 60 KB publications): the server must
  drop it as a slow consumer (`switchboard_slow_consumer_disconnects_total`); and a client that floods WebSocket pings
  without reading the pongs: both must be bounded by the server, not grow it.
- Every 10 s: the server's RSS and open file descriptors (sockets, data-directory files, other), and its sessions (`switchboard_connections`), printed as a
  JSON line and written to `--out` (default artifacts/soak/samples.jsonl) with a chart (`soak.png`, when matplotlib is
  installed).

Fails (exit 1, reasons printed) if RSS after the warm-up (the first fifth of the run) grows by more than 10 %, if the
server's sessions, sockets or other descriptors (not its database files) have not returned to their starting level
once every client has gone, if the never-reading subscriber was not dropped as a slow consumer, or if any
subscriber lost, duplicated or reordered a publication or got a reset. Ends with one line `soak: passed` or
`soak: FAILED`.
"""
import argparse
import asyncio
import json
import os
import pathlib
import random
import re
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
os.environ.setdefault("SWITCHBOARD_BIN", str(ROOT / ".build" / "release" / "switchboard"))
sys.path.insert(0, str(ROOT / "tests" / "engine"))
import engine_support as support  # noqa: E402  (needs SWITCHBOARD_BIN set first)

END_MODES = ("close", "vanish", "silent")


class Churn:
    """What a churning subscriber does between sessions (shared by the three transports)."""

    def __init__(self, rng, silent_seconds):
        self.rng = rng
        self.silent_seconds = silent_seconds
        self.ends = {mode: 0 for mode in END_MODES}

    def lifetime(self):
        return self.rng.uniform(5, 30)

    def end_mode(self):
        mode = self.rng.choice(END_MODES)
        self.ends[mode] += 1
        return mode


async def run_sessions(record, churn, hub):
    """Runs `record.session(hub, generation)` (one connection of a tests/engine subscriber) again and again, each for
    a random lifetime, ending it as `churn` decides: closed (the task is cancelled: a WebSocket close, or the HTTP connection closed), vanished (its transport
    aborted: no close of any kind) or silent (its transport stops reading first)."""
    task = None
    try:
        while hub.up.is_set():
            record.transport = None
            task = asyncio.ensure_future(record.session(hub, hub.generation))
            done, _ = await asyncio.wait({task}, timeout=churn.lifetime())
            if task in done:
                await asyncio.sleep(0.1)  # the server ended it (a slow consumer, say): back off, then come back
                continue
            mode = churn.end_mode()
            if mode == "silent" and record.transport is not None:
                record.transport.pause_reading()
                await asyncio.sleep(churn.silent_seconds)  # how long it stays silent: the behaviour under test
            if mode in ("vanish", "silent") and record.transport is not None:
                record.transport.abort()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    finally:
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def never_reader(hub, channel):
    """Subscribes and never reads: the server must drop it as a slow consumer rather than queue without bound."""
    reader, writer = await asyncio.open_connection(*hub.address)
    writer.write(b"GET /connection/websocket HTTP/1.1\r\nhost: 127.0.0.1\r\nupgrade: websocket\r\nconnection: Upgrade\r\n"
                 b"sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n"
                 b"sec-websocket-protocol: switchboard.v1.json\r\n\r\n")
    for command in ({"id": 1, "cmd": "connect"}, {"id": 2, "cmd": "subscribe", "channel": channel}):
        writer.write(masked_frame(0x1, json.dumps(command).encode()))
    await writer.drain()
    writer.transport.pause_reading()
    return writer


async def ping_flooder(hub, stop):
    """Sends pings as fast as the socket takes them and never reads the pongs; when the server stops taking them or
    closes the connection, opens a new one and goes on. Returns (pings sent, connections used)."""
    sent = connections = 0
    while not stop.is_set():
        reader, writer = await asyncio.open_connection(*hub.address)
        connections += 1
        writer.write(b"GET /raw/ws/soak:pings HTTP/1.1\r\nhost: 127.0.0.1\r\nupgrade: websocket\r\n"
                     b"connection: Upgrade\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     b"sec-websocket-version: 13\r\n\r\n")
        writer.transport.pause_reading()
        try:
            while not stop.is_set():
                writer.write(masked_frame(0x9, b"x" * 125))
                sent += 1
                await asyncio.wait_for(writer.drain(), 5)
        except (OSError, asyncio.TimeoutError, ConnectionError):
            pass  # the server stopped reading us or closed us: its bound held
        writer.transport.abort()
    return sent, connections


def masked_frame(opcode, payload):
    key = os.urandom(4)
    header = bytes([0x80 | opcode])
    if len(payload) < 126:
        header += bytes([0x80 | len(payload)])
    else:
        header += bytes([0x80 | 126]) + len(payload).to_bytes(2, "big")
    return header + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def descriptors(pid, data_directory):
    """The server's open descriptors: sockets, files in its data directory (the SQLite pool opens reader connections,
    each with its own descriptors, on first use), and the rest."""
    counts = {"sockets": 0, "data_files": 0, "other": 0}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:"):
            counts["sockets"] += 1
        elif target.startswith(data_directory):
            counts["data_files"] += 1
        else:
            counts["other"] += 1
    return counts


async def sample(hub, started):
    pid = hub.process.pid
    with open(f"/proc/{pid}/status") as status:
        rss_kb = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    fds = descriptors(pid, hub.data_directory)
    _, _, body = await support.http_request(hub.address, "GET", "/metrics")
    return {"t": round(time.monotonic() - started), "rss_kb": rss_kb, "fds": sum(fds.values()), **fds,
            "sessions": int(metric_sum(body, "switchboard_connections")),
            "slow_consumers_dropped": int(metric_sum(body, "switchboard_slow_consumer_disconnects_total"))}


def metric_sum(body, name):
    """The sum of a metric over all its label sets, from a /metrics answer."""
    return sum(float(value) for value in re.findall(rb"^" + name.encode() + rb"\{[^}]*\} ([0-9.e+]+)$", body, re.M))


def chart(samples, warmup_seconds, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plot
    except ImportError:
        return False
    figure, (rss, counts) = plot.subplots(2, 1, figsize=(9, 6), sharex=True)
    t = [s["t"] / 60 for s in samples]
    rss.plot(t, [s["rss_kb"] / 1024 for s in samples], label="RSS (MiB)")
    rss.axvline(warmup_seconds / 60, color="grey", linestyle=":", label="end of warm-up")
    rss.set_ylabel("MiB")
    rss.legend()
    counts.plot(t, [s["sessions"] for s in samples], label="sessions")
    counts.plot(t, [s["fds"] for s in samples], label="open descriptors")
    counts.set_xlabel("minutes")
    counts.legend()
    figure.tight_layout()
    figure.savefig(path)
    return True


async def soak(args):
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    directory = tempfile.mkdtemp(prefix="switchboard-soak-")
    hub = support.Hub(directory, str(out / "server.log"), settings=["limits.publishes_per_second_per_user=0",
                                                                   "limits.publishes_per_second_per_channel=0"])
    await hub.start()
    started = time.monotonic()
    baseline = await sample(hub, started)
    channels = [f"soak:{n}" for n in range(args.channels)]
    churn = Churn(rng, silent_seconds=10)
    kinds = (support.WebSocketSubscriber, support.SSESubscriber, support.PollSubscriber)
    subscribers = [kinds[n % 3](f"{kinds[n % 3].__name__}-{n}", rng.choice(channels)) for n in range(args.clients)]
    publishers = support.Publishers(hub, channels, args.rate)
    publishers.start()
    tasks = []
    for subscriber in subscribers:
        tasks.append(asyncio.ensure_future(run_sessions(subscriber, churn, hub)))
        await asyncio.sleep(1 / 200)  # 200 connections per second at the start, not one burst
    stop_flooding = asyncio.Event()
    flooder = asyncio.ensure_future(ping_flooder(hub, stop_flooding))
    silent = await never_reader(hub, "soak:big")
    big = asyncio.ensure_future(big_publisher(hub, stop_flooding))
    samples = [baseline]
    warmup_seconds = args.minutes * 60 / 5
    with open(out / "samples.jsonl", "w") as file:
        while time.monotonic() - started < args.minutes * 60:
            await asyncio.sleep(10)  # the sampling period, not a synchronisation
            samples.append(await sample(hub, started))
            print(json.dumps(samples[-1]), flush=True)
            file.write(json.dumps(samples[-1]) + "\n")
        # Everyone leaves; then the server must be back where it started.
        stop_flooding.set()
        await publishers.stop()
        hub.up.clear()  # the churn loops end with their current session
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        silent.transport.abort()
        pings = await flooder
        big_answered, big_refused = await big
        deadline = time.monotonic() + 60
        while True:
            final = await sample(hub, started)
            if (final["sessions"] == 0 and not leaked_descriptors(final, baseline, sample_at(samples, warmup_seconds))) or time.monotonic() > deadline:
                break
            await asyncio.sleep(1)  # polling the server's counters, with the deadline above
        file.write(json.dumps({**final, "after_clients_left": True}) + "\n")
    await hub.close()
    failures = judge(samples, final, baseline, warmup_seconds, subscribers, publishers)
    if big_refused or not big_answered:
        failures.append(f"big publications for the never-reading subscriber: {big_answered} answered, {big_refused} not")
    if final["slow_consumers_dropped"] == 0:
        failures.append("the never-reading subscriber was not dropped as a slow consumer")
    charted = chart(samples, warmup_seconds, out / "soak.png")
    summary = {
        "minutes": args.minutes, "clients": args.clients, "channels": args.channels, "rate": args.rate,
        "publications_answered": len(publishers.answered), "big_publications_answered": big_answered,
        "sessions_ended": churn.ends,
        "connections": sum(s.connections for s in subscribers), "flooder_pings_and_connections": pings,
        "rss_kb_at_warmup_end": sample_at(samples, warmup_seconds)["rss_kb"], "rss_kb_max_after_warmup":
            max(s["rss_kb"] for s in samples if s["t"] >= warmup_seconds), "final": final, "baseline": baseline,
        "chart": str(out / "soak.png") if charted else None, "failures": failures,
    }
    print(json.dumps(summary, indent=1))
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print("soak: passed" if not failures else "soak: FAILED")
    return not failures


async def big_publisher(hub, stop):
    """60 KB publications (under the default 64 KiB request limit, envelope included) for the never-reading
    subscriber, ten a second (socket buffers on loopback hold ~10 MB before the server's queue fills). Returns how many were answered 200 and how many were not."""
    connection = await support.HTTPConnection.open(hub.address)
    data = "x" * 60000
    answered = refused = 0
    while not stop.is_set():
        status, _, _ = await connection.request("POST", "/api/publish", {"channel": "soak:big", "data": data},
                                                support.api_headers())
        answered, refused = (answered + 1, refused) if status == 200 else (answered, refused + 1)
        await asyncio.sleep(0.1)  # the pace of this load
    connection.close()
    return answered, refused


def sample_at(samples, seconds):
    return next(s for s in samples if s["t"] >= seconds)


def leaked_descriptors(final, baseline, settled):
    """Sockets beyond the start's, or other descriptors beyond the end of the warm-up's (threads made on first use
    open theirs after the start), once every client has gone. Files of the data directory are the database's own,
    bounded by its connection pool."""
    leaks = []
    if final["sockets"] > baseline["sockets"]:
        leaks.append(f"{final['sockets']} sockets open after every client went, {baseline['sockets']} at the start")
    if final["other"] > settled["other"]:
        leaks.append(f"{final['other']} other descriptors open after every client went, {settled['other']} after the warm-up")
    return leaks


def judge(samples, final, baseline, warmup_seconds, subscribers, publishers):
    failures = []
    start = sample_at(samples, warmup_seconds)["rss_kb"]
    peak = max(s["rss_kb"] for s in samples if s["t"] >= warmup_seconds)
    if peak > start * 1.10:
        failures.append(f"RSS grew {100 * (peak - start) / start:.1f} % after the warm-up ({start} -> {peak} KiB)")
    if final["sessions"] != 0:
        failures.append(f"{final['sessions']} sessions left after every client went")
    for leak in leaked_descriptors(final, baseline, sample_at(samples, warmup_seconds)):
        failures.append(leak)
    for subscriber in subscribers:
        problems = {"missing": len(subscriber.missing), "duplicated": subscriber.duplicated,
                    "out_of_order": subscriber.out_of_order, "resets": len(subscriber.resets),
                    "epoch_changes": len(subscriber.epoch_changes), "errors": subscriber.errors[:3]}
        if any(problems.values()):
            failures.append(f"{subscriber.name} on {subscriber.channel}: {problems}")
    if publishers.refused or publishers.not_sent:
        failures.append(f"publishes refused {len(publishers.refused)}, not sent {len(publishers.not_sent)}")
    return failures[:50]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--channels", type=int, default=200)
    parser.add_argument("--rate", type=float, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=str(ROOT / "artifacts" / "soak"))
    args = parser.parse_args()
    sys.exit(0 if asyncio.run(soak(args)) else 1)


if __name__ == "__main__":
    main()
