"""The `switchboard.v1.msgpack` wire format against independent implementations: Python `websockets` for the socket
and Python `msgpack` for the encoding (the oracle), cross-checked with JSON subscribers and the HTTP API."""
import base64
import json
import urllib.request

import pytest

websockets = pytest.importorskip("websockets")
msgpack = pytest.importorskip("msgpack")
from websockets.sync.client import connect  # noqa: E402

from conftest import API_KEY  # noqa: E402

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
