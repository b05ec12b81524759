#!/usr/bin/env python3
"""Server RSS under a WebSocket ping flood whose pongs are never read (hardening issue, "pong flood").

Starts the release binary (production mode, anonymous, as in the issue's probe) on a free loopback port, opens one
WebSocket to PATH, and for SECONDS sends masked 125-byte pings as fast as the socket takes them without ever reading.
Samples the server's VmRSS every second; prints one JSON object.

    python3 Benchmarks/pong-flood.py [--seconds 12] [--path /connection/websocket] [--mode development]
"""
import argparse, base64, json, os, socket, time

from release_server import DEFAULT_BINARY, release_server, rss_kb

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=12)
    ap.add_argument("--path", default="/connection/websocket")
    ap.add_argument("--mode", default="production")
    ap.add_argument("--binary", default=DEFAULT_BINARY)
    args = ap.parse_args()
    settings = [f"mode={args.mode}"] + (["channel_defaults.allow_anonymous=true"] if args.mode == "production" else [])
    with release_server(args.binary, settings) as (server, port):
        sock = socket.create_connection(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall((f"GET {args.path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: switchboard.v1.json\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(1)
        status = head.split(b" ")[1].decode()
        mask = b"\x01\x02\x03\x04"
        ping = b"\x89\xfd" + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(b"p" * 125))
        burst = ping * 1000
        samples, sent = [rss_kb(server.pid)], 0
        start = next_sample = time.monotonic()
        sock.settimeout(0.5)
        while time.monotonic() - start < args.seconds:
            try:
                sock.sendall(burst); sent += 1000
            except socket.timeout:
                pass
            if time.monotonic() >= next_sample + 1:
                next_sample += 1
                samples.append(rss_kb(server.pid))
        samples.append(rss_kb(server.pid))
        sock.close()
        time.sleep(1)
        print(json.dumps({"path": args.path, "mode": args.mode, "upgrade_status": status, "pings_sent": sent,
                          "rss_kb_start": samples[0], "rss_kb_max": max(samples), "rss_kb_end": samples[-1],
                          "rss_kb_after_close": rss_kb(server.pid)}))

if __name__ == "__main__":
    main()
