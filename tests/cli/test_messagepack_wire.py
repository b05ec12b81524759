"""The `switchboard.v1.msgpack` wire format against independent implementations: Python `websockets` for the socket
and Python `msgpack` for the encoding (the oracle), cross-checked with JSON subscribers and the HTTP API."""
import base64
import json
import os
import subprocess
import urllib.request

import pytest

websockets = pytest.importorskip("websockets")
msgpack = pytest.importorskip("msgpack")
from websockets.sync.client import connect  # noqa: E402

from conftest import API_KEY, BINARY, inherited_environment, start_server  # noqa: E402

MSGPACK = "switchboard.v1.msgpack"
JSON = "switchboard.v1.json"


def open_socket(server, subprotocol):
    return connect(f"ws://127.0.0.1:{server.port}/connection/websocket", subprotocols=[subprotocol], open_timeout=10)


def send_msgpack(ws, command):
    ws.send(msgpack.packb(command, use_bin_type=True))


def recv_msgpack(ws):
    frame = ws.recv(timeout=10)
    assert isinstance(frame, bytes), "MessagePack sessions get binary frames"
    return msgpack.unpackb(frame, raw=False)


def reply(ws, id, decode):
    while True:
        message = decode(ws)
        if message.get("id") == id:
            return message


def next_push(ws, kind, decode):
    while True:
        message = decode(ws)
        if message.get("push") == kind:
            return message


def recv_json(ws):
    return json.loads(ws.recv(timeout=10))


def api_publish(server, body):
    request = urllib.request.Request(
        f"{server.url}/api/publish", data=json.dumps(body).encode(), headers={"Authorization": f"apikey {API_KEY}"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_the_msgpack_subprotocol_is_negotiated(server):
    with open_socket(server, MSGPACK) as ws:
        assert ws.subprotocol == MSGPACK
        send_msgpack(ws, {"id": 1, "cmd": "connect"})
        answer = reply(ws, 1, recv_msgpack)
        assert answer["result"]["version"] == "1"


def test_a_json_publication_reaches_a_msgpack_subscriber_with_the_same_data(server):
    data = {"symbol": "AAPL", "price": 187.25, "volume": 1200, "tags": ["a", None, True], "nested": {"x": -3}}
    with open_socket(server, MSGPACK) as ws:
        send_msgpack(ws, {"id": 1, "cmd": "subscribe", "channel": "prices"})
        reply(ws, 1, recv_msgpack)
        api_publish(server, {"channel": "prices", "data": data, "key": "AAPL"})
        push = next_push(ws, "publication", recv_msgpack)
        assert push["data"] == data
        assert push["offset"] == 1
        assert push["key"] == "AAPL"


def test_binary_data_from_a_msgpack_publisher_is_bytes_for_msgpack_and_base64_for_json(server):
    payload = bytes(range(256))
    with open_socket(server, MSGPACK) as binary_reader, open_socket(server, JSON) as json_reader, open_socket(server, MSGPACK) as writer:
        send_msgpack(binary_reader, {"id": 1, "cmd": "subscribe", "channel": "files"})
        reply(binary_reader, 1, recv_msgpack)
        json_reader.send(json.dumps({"id": 1, "cmd": "subscribe", "channel": "files"}))
        reply(json_reader, 1, recv_json)
        send_msgpack(writer, {"id": 7, "cmd": "publish", "channel": "files", "data": {"name": "blob", "bytes": payload}})
        published = reply(writer, 7, recv_msgpack)
        assert published["result"]["offset"] == 1
        as_msgpack = next_push(binary_reader, "publication", recv_msgpack)
        assert as_msgpack["data"] == {"name": "blob", "bytes": payload}
        as_json = next_push(json_reader, "publication", recv_json)
        assert as_json["data"]["bytes"] == {"$binary": base64.b64encode(payload).decode()}


def test_a_text_frame_on_the_msgpack_protocol_closes_with_1003(server):
    with open_socket(server, MSGPACK) as ws:
        ws.send(json.dumps({"id": 1, "cmd": "ping"}))
        with pytest.raises(websockets.exceptions.ConnectionClosed) as closed:
            while True:
                ws.recv(timeout=10)
        assert closed.value.rcvd.code == 1003


def test_a_broken_msgpack_command_gets_an_error_push_and_the_session_stays(server):
    with open_socket(server, MSGPACK) as ws:
        ws.send(b"\xc1")
        error = next_push(ws, "error", recv_msgpack)
        assert error["error"]["code"] == 111
        send_msgpack(ws, {"id": 2, "cmd": "ping"})
        assert reply(ws, 2, recv_msgpack)["result"] == {}


@pytest.fixture
def live_server():
    srv = start_server(
        "--set", "namespaces.room.presence=true", "--set", "namespaces.room.receipts=true",
        "--set", "namespaces.ticker.conflation=true", "--set", "heartbeat.interval_ms=300",
        "--set", "auth.hmac_secret=messagepack-test-secret-0123456789abcdef",
    )
    yield srv
    srv.process.terminate()
    srv.process.wait(timeout=15)


def mint(server, user):
    """A token from `switchboard token`, signed with the live server's secret."""
    env = inherited_environment(SWITCHBOARD_AUTH_HMAC_SECRET="messagepack-test-secret-0123456789abcdef")
    completed = subprocess.run([BINARY, "token", "--sub", user, "--ttl", "600"], env=env, capture_output=True, text=True, timeout=30)
    return completed.stdout.strip()


def test_every_push_type_arrives_as_msgpack(live_server):
    """join, leave, signal, receipt, publication (with receipts), conflated-free ping: each decoded by Python msgpack."""
    seen = {}
    with open_socket(live_server, MSGPACK) as alice, open_socket(live_server, MSGPACK) as bob:
        send_msgpack(alice, {"id": 1, "cmd": "connect", "token": mint(live_server, "alice")})
        reply(alice, 1, recv_msgpack)
        send_msgpack(bob, {"id": 1, "cmd": "connect", "token": mint(live_server, "bob")})
        reply(bob, 1, recv_msgpack)
        send_msgpack(alice, {"id": 2, "cmd": "subscribe", "channel": "room:1"})
        subscribed = reply(alice, 2, recv_msgpack)
        assert subscribed["result"]["presence"]["clients"] == 1
        send_msgpack(bob, {"id": 2, "cmd": "subscribe", "channel": "room:1"})
        reply(bob, 2, recv_msgpack)
        seen["join"] = next_push(alice, "join", recv_msgpack)
        while seen["join"].get("user") != "bob":
            seen["join"] = next_push(alice, "join", recv_msgpack)
        send_msgpack(bob, {"id": 3, "cmd": "signal", "channel": "room:1", "type": "typing", "data": {"on": True}})
        seen["signal"] = next_push(alice, "signal", recv_msgpack)
        send_msgpack(alice, {"id": 4, "cmd": "publish", "channel": "room:1", "data": "hi", "receipts": True})
        offset = reply(alice, 4, recv_msgpack)["result"]["offset"]
        seen["publication"] = next_push(bob, "publication", recv_msgpack)
        send_msgpack(bob, {"id": 5, "cmd": "ack", "channel": "room:1", "offset": offset, "status": "read"})
        seen["receipt"] = next_push(alice, "receipt", recv_msgpack)
        seen["ping"] = next_push(alice, "ping", recv_msgpack)
    with open_socket(live_server, MSGPACK) as watcher:
        send_msgpack(watcher, {"id": 1, "cmd": "subscribe", "channel": "room:2"})
        reply(watcher, 1, recv_msgpack)
        with open_socket(live_server, MSGPACK) as visitor:
            send_msgpack(visitor, {"id": 1, "cmd": "subscribe", "channel": "room:2"})
            reply(visitor, 1, recv_msgpack)
        seen["leave"] = next_push(watcher, "leave", recv_msgpack)
    assert seen["join"]["channel"] == "room:1"
    assert seen["signal"] == {"push": "signal", "channel": "room:1", "type": "typing", "client": seen["join"]["client"], "user": "bob", "data": {"on": True}}
    assert seen["publication"]["receipts"] is True and seen["publication"]["data"] == "hi"
    assert seen["receipt"] == {"push": "receipt", "channel": "room:1", "offset": offset, "user": "bob", "status": "read"}
    assert seen["ping"] == {"push": "ping"}
    assert seen["leave"]["channel"] == "room:2"


def test_a_conflation_notice_and_batched_frames_arrive_as_msgpack(live_server):
    with open_socket(live_server, MSGPACK) as ws:
        send_msgpack(ws, {"id": 1, "cmd": "connect", "batch": True})
        reply(ws, 1, recv_msgpack)
        send_msgpack(ws, {"id": 2, "cmd": "subscribe", "channel": "ticker:t", "maxRate": 1})
        reply(ws, 2, recv_msgpack)
        api_publish(live_server, {"publications": [{"channel": "ticker:t", "key": "K", "data": n} for n in range(1, 51)]})
        messages = []
        while not any(m.get("push") == "publication" and m.get("data") == 50 for m in messages):
            frame = ws.recv(timeout=10)
            unpacker = msgpack.Unpacker(raw=False)
            unpacker.feed(frame)
            messages.extend(unpacker)
        kinds = [m.get("push") for m in messages]
        assert "conflated" in kinds
        assert kinds.index("conflated") < len(kinds) - 1
