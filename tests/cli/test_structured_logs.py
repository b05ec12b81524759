"""`log.format: json`: the real binary writes one JSON object per line on standard error — connections opened and closed
(transport, remote address, user, duration, close code, bytes), refused requests (status, reason, request id) — and
never a token, the API key or the HMAC secret the test used."""
import base64
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request

import pytest

websockets = pytest.importorskip("websockets")
from websockets.sync.client import connect  # noqa: E402

from conftest import API_KEY, start_server  # noqa: E402

HMAC_SECRET = "structured-logs-hmac-secret-0123456789abcdef"


def token(subject):
    """An HS256 connection token, made here so the test knows every byte that must stay out of the log."""

    def encode(part):
        return base64.urlsafe_b64encode(json.dumps(part, separators=(",", ":")).encode()).rstrip(b"=").decode()

    signing_input = encode({"alg": "HS256", "typ": "JWT"}) + "." + encode({"sub": subject, "exp": int(time.time()) + 3600})
    signature = hmac.new(HMAC_SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()


def test_json_lines_for_connections_and_refusals_without_secrets():
    server = start_server(env={"SWITCHBOARD_LOG_FORMAT": "json", "SWITCHBOARD_AUTH_HMAC_SECRET": HMAC_SECRET})
    alice = token("alice")
    forged = token("mallory")[:-4] + "AAAA"
    try:
        with connect(f"ws://127.0.0.1:{server.port}/connection/websocket?token={alice}", subprotocols=["switchboard.v1.json"]) as ws:
            ws.send(json.dumps({"id": 1, "cmd": "subscribe", "channel": "logs"}))
            while "id" not in json.loads(ws.recv(timeout=10)):
                pass
            request = urllib.request.Request(
                server.url + "/api/publish",
                data=json.dumps({"channel": "logs", "data": {"hello": "world"}}).encode(),
                headers={"authorization": "apikey " + API_KEY, "content-type": "application/json"},
            )
            urllib.request.urlopen(request, timeout=10).close()
            while json.loads(ws.recv(timeout=10)).get("push") != "publication":
                pass
        with pytest.raises(urllib.error.HTTPError) as refused_stream:
            urllib.request.urlopen(f"{server.url}/connection/sse?channel=logs&token={forged}", timeout=10)
        assert refused_stream.value.code == 401
        wrong_key = urllib.request.Request(
            server.url + "/api/publish", data=b"{}", headers={"authorization": "apikey wrong-" + API_KEY}
        )
        with pytest.raises(urllib.error.HTTPError) as refused_api:
            urllib.request.urlopen(wrong_key, timeout=10)
        assert refused_api.value.code == 401
    finally:
        server.process.terminate()
        server.process.wait(timeout=15)
    log = server.process.stderr.read()
    lines = [json.loads(line) for line in log.splitlines() if line.strip()]
    assert lines, "no log lines"
    for line in lines:
        assert {"ts", "level", "label", "message"} <= set(line), line

    opened = [line for line in lines if line["message"] == "connection opened"]
    closed = [line for line in lines if line["message"] == "connection closed"]
    assert len(opened) == 1 and len(closed) == 1, lines
    assert opened[0]["transport"] == "websocket" and opened[0]["user"] == "alice" and opened[0]["remote"] == "127.0.0.1"
    assert closed[0]["session"] == opened[0]["session"]
    assert int(closed[0]["duration_ms"]) >= 0
    assert int(closed[0]["bytes_out"]) > len('{"hello":"world"}')  # the subscribe reply and the publication

    refusals = [line for line in lines if line["message"] == "request refused"]
    stream_refusal = next(line for line in refusals if line.get("path") == "/connection/sse")
    assert stream_refusal["level"] == "notice" and stream_refusal["status"] == "401" and stream_refusal["request_id"]
    api_refusal = next(line for line in refusals if line.get("path") == "/api/publish")
    assert api_refusal["status"] == "401" and api_refusal["error"] == "invalid_api_key" and api_refusal["request_id"]

    for secret in (alice, forged, alice.split(".")[2], API_KEY, HMAC_SECRET):
        assert secret not in log


def run_one_connection(*arguments):
    """Starts a server, opens and closes one WebSocket connection, stops the server; its standard error."""
    server = start_server(*arguments)
    try:
        with connect(f"ws://127.0.0.1:{server.port}/connection/websocket", subprotocols=["switchboard.v1.json"]):
            pass
    finally:
        server.process.terminate()
        server.process.wait(timeout=15)
    return server.process.stderr.read()


def test_text_format_is_the_default_and_log_level_filters():
    text = [line for line in run_one_connection().splitlines() if "connection opened" in line]
    assert len(text) == 1 and not text[0].startswith("{")
    assert "connection opened" not in run_one_connection("--log-level", "warning")  # info is below warning
