#!/usr/bin/env python3
"""Prints real WebSocket handshakes with a Switchboard server, byte for byte (docs/protocol.md §4.1 pastes them).

Starts `switchboard serve` (SWITCHBOARD_BIN, else .build/debug/switchboard) on a free port with the in-memory engine,
sends each request below on its own connection exactly as written, and prints what was sent and what came back
(`\\r\\n` shown as line ends). The key is RFC 6455's example, so the accept value can be checked by hand.
"""
import os
import pathlib
import re
import socket
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
BINARY = os.environ.get("SWITCHBOARD_BIN", str(ROOT / ".build" / "debug" / "switchboard"))
KEY = "dGhlIHNhbXBsZSBub25jZQ=="

REQUESTS = {
    "upgrade": ["Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Key: {KEY}", "Sec-WebSocket-Version: 13",
                "Sec-WebSocket-Protocol: switchboard.v1.json"],
    "no upgrade headers": [f"Sec-WebSocket-Key: {KEY}", "Sec-WebSocket-Version: 13"],
    "version 8": ["Upgrade: websocket", "Connection: Upgrade", f"Sec-WebSocket-Key: {KEY}", "Sec-WebSocket-Version: 8"],
    "malformed key": ["Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: not-a-key", "Sec-WebSocket-Version: 13"],
}


def exchange(port, lines):
    request = "GET /connection/websocket HTTP/1.1\r\n" + f"Host: 127.0.0.1:{port}\r\n" + "".join(f"{line}\r\n" for line in lines) + "\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(request.encode())
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.startswith(b"HTTP/1.1 101"):
            chunk = connection.recv(65536)
            if not chunk:
                break
            answer += chunk
            if answer.startswith(b"HTTP/1.1 101") and b"\r\n\r\n" in answer:
                break
    return request, answer.decode()


def main():
    server = subprocess.Popen([BINARY, "serve", "--port", "0", "--set", "engine.type=memory"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True, env={k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")})
    try:
        for line in server.stdout:
            match = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
            if match:
                port = int(match.group(1))
                break
        else:
            sys.exit("the server exited before listening")
        for name, lines in REQUESTS.items():
            request, answer = exchange(port, lines)
            print(f"--- {name}: sent")
            print(request.replace("\r\n", "\n").replace(f":{port}", ":PORT"), end="")
            print(f"--- {name}: received")
            print(answer.replace("\r\n", "\n").rstrip("\n"))
            print()
    finally:
        server.terminate()
        server.wait(timeout=15)


if __name__ == "__main__":
    main()
