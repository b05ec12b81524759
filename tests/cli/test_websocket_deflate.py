"""permessage-deflate against an independent implementation: the Python `websockets` client (its own zlib use and
negotiation code) talks to the real binary's echo endpoint, which runs the production WebSocket pipeline."""
import pytest

websockets = pytest.importorskip("websockets")
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

from conftest import start_server  # noqa: E402


@pytest.fixture
def echo_server():
    srv = start_server("--set", "testing.echo_endpoint=true")
    yield srv
    srv.process.terminate()
    srv.process.wait(timeout=15)


def offer(**parameters):
    return [ClientPerMessageDeflateFactory(**parameters)]


@pytest.mark.parametrize(
    "parameters",
    [
        {},
        {"client_no_context_takeover": True},
        {"server_max_window_bits": 9},
        {"client_max_window_bits": 10},
        {"client_no_context_takeover": True, "server_max_window_bits": 12},
    ],
)
def test_compressed_messages_round_trip(echo_server, parameters):
    url = f"ws://127.0.0.1:{echo_server.port}/testing/echo"
    with connect(url, extensions=offer(**parameters)) as ws:
        agreed = ws.response.headers.get("Sec-WebSocket-Extensions", "")
        assert agreed.startswith("permessage-deflate; server_no_context_takeover"), agreed
        # Messages that repeat each other: with client context takeover the client refers back to earlier ones.
        for round_number in range(5):
            text = f"round {round_number}: " + "switchboard fan-out " * 200
            ws.send(text)
            assert ws.recv() == text
            ws.send(text.encode())
            assert ws.recv() == text.encode()
        ws.send("small")
        assert ws.recv() == "small"


def test_compression_off_declines_the_offer():
    srv = start_server("--set", "testing.echo_endpoint=true", "--set", "websocket.compression=false")
    try:
        with connect(f"ws://127.0.0.1:{srv.port}/testing/echo", extensions=offer()) as ws:
            assert "Sec-WebSocket-Extensions" not in ws.response.headers
            ws.send("x" * 1000)
            assert ws.recv() == "x" * 1000
    finally:
        srv.process.terminate()
        srv.process.wait(timeout=15)


def test_inflated_size_limit_closes_with_1009():
    srv = start_server("--set", "testing.echo_endpoint=true", "--set", "limits.max_message_bytes=65536")
    try:
        with connect(f"ws://127.0.0.1:{srv.port}/testing/echo", extensions=offer(), max_size=None) as ws:
            ws.send("a" * (4 << 20))  # compresses to a few KB, inflates far past the limit
            with pytest.raises(websockets.exceptions.ConnectionClosedError) as closed:
                ws.recv()
            assert closed.value.rcvd.code == 1009
    finally:
        srv.process.terminate()
        srv.process.wait(timeout=15)
