#!/usr/bin/env python3
"""Server memory across rounds of connections that open, subscribe and close (hardening issue, "memory creep").

Starts the release binary on a free loopback port. Each round opens N WebSocket connections (raw sockets, the
switchboard.v1.json subprotocol), subscribes each to a channel (a new name per connection and round with
--new-names, else the same N names every round), waits for every reply, closes them all, then waits until the server's
`switchboard_connections{transport="websocket"}` gauge reads 0 and samples its RSS (VmRSS). Prints one JSON object
with the RSS after each round and the growth per closed connection between the first round and the last.

    python3 Benchmarks/connection-churn.py [--rounds 12] [--connections 2000] [--new-names] [--env MALLOC_ARENA_MAX=2]
        [--set engine.type=memory] [--binary PATH]
"""
import argparse, base64, json, os, re, resource, socket, time, urllib.request

import release_server
from release_server import API_KEY, DEFAULT_BINARY, rss_kb


def handshake(port):
    sock = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /connection/websocket HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                  f"Sec-WebSocket-Protocol: switchboard.v1.json\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        assert chunk, "server closed during the handshake"
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head[:80]
    return sock, head.split(b"\r\n\r\n", 1)[1]


def frame(text):
    payload = text.encode()
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    assert len(payload) < 126
    return bytes([0x81, 0x80 | len(payload)]) + mask + masked


def read_reply(sock, pending):
    """Reads until one complete text frame containing a reply ("id") arrived."""
    buf = pending
    while True:
        while len(buf) >= 2:
            length = buf[1] & 0x7F
            offset = 2
            if length == 126:
                if len(buf) < 4: break
                length = int.from_bytes(buf[2:4], "big"); offset = 4
            if len(buf) < offset + length: break
            payload, buf = buf[offset:offset + length], buf[offset + length:]
            if b'"id"' in payload:
                return buf
        chunk = sock.recv(65536)
        assert chunk, "server closed before replying"
        buf += chunk


def websocket_connections(port, transport="websocket"):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        text = r.read().decode()
    match = re.search(r'^switchboard_connections\{transport="%s"\} (\S+)' % transport, text, re.M)
    return float(match.group(1)) if match else 0.0


def http_request(port):
    """One plain HTTP request (GET /healthz, keep-alive) on its own connection; the connection stays open."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
    response = b""
    while not response.endswith(b'{"status":"ok"}'):
        chunk = sock.recv(4096)
        assert chunk, "server closed before answering"
        response += chunk
    return sock


def sse_stream(port, channel):
    """An SSE stream on its own connection, read until its first event (the subscription)."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(f"GET /connection/sse?channel={channel} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n\r\n".encode())
    received = b""
    while b"subscribed" not in received:
        chunk = sock.recv(4096)
        assert chunk, "server closed the stream"
        received += chunk
    return sock


def run_round(port, count, names, command):
    if command == "sse":
        socks = [sse_stream(port, names[n]) for n in range(count)]
        for sock in socks:
            sock.close()
        deadline = time.time() + 60
        while websocket_connections(port, "sse") != 0:
            assert time.time() < deadline, "SSE connections never reached 0"
            time.sleep(0.05)
        return
    if command == "http":
        socks = [http_request(port) for _ in range(count)]
        for sock in socks:
            sock.close()
        time.sleep(1)  # no gauge counts plain HTTP connections: give the closes a moment (a measurement wait)
        return
    socks = []
    for n in range(count):
        sock, rest = handshake(port)
        if command == "subscribe":
            sock.sendall(frame(json.dumps({"id": 1, "cmd": "subscribe", "channel": names[n]}, separators=(",", ":"))))
        elif command == "ping":
            sock.sendall(frame('{"id":1,"cmd":"ping"}'))
        socks.append((sock, rest))
    for sock, rest in socks:
        if command != "none":
            read_reply(sock, rest)
    for sock, _ in socks:
        sock.close()
    # Observable condition (the server's own gauge), polled: a measurement wait, not test synchronisation.
    deadline = time.time() + 60
    while websocket_connections(port) != 0:
        assert time.time() < deadline, "connections never reached 0"
        time.sleep(0.05)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=12)
    ap.add_argument("--connections", type=int, default=2000)
    ap.add_argument("--new-names", action="store_true", help="a new channel name per connection and round")
    ap.add_argument("--command", choices=["subscribe", "ping", "none", "http", "sse"], default="subscribe",
                    help="what each WebSocket sends before closing (none: the handshake only; http: plain HTTP connections instead; sse: SSE streams instead)")
    ap.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server's environment")
    ap.add_argument("--set", action="append", default=[], help="KEY=VALUE passed to the server with --set")
    ap.add_argument("--binary", default=DEFAULT_BINARY)
    args = ap.parse_args()
    # Thousands of sockets on each side: raise the descriptor limit (the server inherits it).
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    for assignment in args.env:
        name, value = assignment.split("=", 1)
        os.environ[name] = value  # release_server passes os.environ on to the server
    settings = ["limits.commands_per_second=0", "limits.max_connections_per_ip=0"] + args.set
    with release_server.release_server(args.binary, settings) as (server, port):
        out = {"connections_per_round": args.connections, "new_names": args.new_names, "command": args.command, "env": args.env, "set": args.set, "rss_kb": []}
        out["rss_kb_start"] = rss_kb(server.pid)
        for round_number in range(args.rounds):
            names = [f"churn:{round_number if args.new_names else 0}-{n}" for n in range(args.connections)]
            run_round(port, args.connections, names, args.command)
            out["rss_kb"].append(rss_kb(server.pid))
        rss = out["rss_kb"]
        closed_after_first = args.connections * (args.rounds - 1)
        out["bytes_per_closed_connection_after_round_1"] = round((rss[-1] - rss[0]) * 1024 / closed_after_first)
        half = len(rss) // 2
        out["bytes_per_closed_connection_second_half"] = round((rss[-1] - rss[half]) * 1024 / (args.connections * (len(rss) - 1 - half)))
        print(json.dumps(out))


if __name__ == "__main__":
    main()
