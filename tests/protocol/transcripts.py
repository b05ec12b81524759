"""Golden transcripts of protocol v1 (docs/protocol.md §13): commands sent and the exact messages the server answers,
replayed on every transport of a session — WebSocket JSON, WebSocket MessagePack, SSE and long-polling.

A transcript (`golden/*.txt`) is a list of steps, one per line:

    # a comment
    > {"id":1,"cmd":"connect"}                       a command, sent as written (MessagePack: the same map)
    < {"id":1,"result":{"client":"$client",...}}    the next message the session receives, byte for byte
    api {"channel":"news","data":1}                 POST /api/publish with the API key (answer must be 200)

In an expected message, `"$name"` stands for any JSON string and `$name` (unquoted) for any integer; the first
occurrence binds the name, later ones must repeat the value (a client id, an epoch, an offset). Everything else must
be identical: member order, minification, numbers. MessagePack messages are compared in their JSON form (members
in the order of the map), so a MessagePack server keeps the JSON member order too.

`python3 tests/protocol/transcripts.py record FILE...` prints what the server answers now, to write a new transcript;
review every line before committing it — a golden transcript is a promise to old clients.
"""
import contextlib
import importlib.util
import json
import os
import re
import socket
import sys
import urllib.error
import urllib.request


def _load_server_fixtures():
    """tests/cli/conftest.py (the real binary on a free port), loaded by path: every suite's helpers are "conftest"."""
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cli", "conftest.py")
    spec = importlib.util.spec_from_file_location("switchboard_server_fixtures", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_fixtures = _load_server_fixtures()
API_KEY, start_server = _fixtures.API_KEY, _fixtures.start_server

GOLDEN = os.path.join(os.path.dirname(__file__), "golden")
TRANSPORTS = ["websocket-json", "websocket-msgpack", "sse", "poll"]
TIMEOUT = 10

# One server configuration for every transcript: the namespaces the transcripts use.
SERVER_ARGUMENTS = [
    "--set", "namespaces.room.presence=true",
    "--set", "namespaces.room.receipts=true",
    "--set", "namespaces.room.allow_signals=true",
    "--set", "engine.type=memory",
]


def minified(message):
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


# ---------------------------------------------------------------------------------------------------------------
# Matching an expected line


def template_pattern(template):
    """A regex for `template` where "$name" is any JSON string and $name any integer; repeated names backreference."""
    parts, names, position = [], {}, 0
    for match in re.finditer(r'"\$([a-z_0-9]+)"|\$([a-z_0-9]+)', template):
        parts.append(re.escape(template[position:match.start()]))
        name = match.group(1) or match.group(2)
        quoted = match.group(1) is not None
        if name in names:
            parts.append(f"(?P={name})" if not quoted else f'"(?P={name})"')
        else:
            names[name] = quoted
            parts.append(f'"(?P<{name}>(?:[^"\\\\]|\\\\.)*)"' if quoted else f"(?P<{name}>-?\\d+)")
        position = match.end()
    parts.append(re.escape(template[position:]))
    return "".join(parts)


class Bindings:
    """Names bound by earlier lines of one transcript run, substituted into later commands and expectations."""

    def __init__(self):
        self.values = {}

    def substitute(self, template):
        for name, (value, quoted) in self.values.items():
            if quoted:
                template = template.replace(f'"${name}"', json.dumps(value))
            template = template.replace(f"${name}", str(value) if not quoted else value)
        return template

    def expect(self, template, actual):
        resolved = self.substitute(template)
        match = re.fullmatch(template_pattern(resolved), actual)
        if not match:
            raise AssertionError(f"expected {resolved}\n     got {actual}")
        for name, value in match.groupdict().items():
            quoted = f'"${name}"' in resolved
            self.values[name] = (json.loads(f'"{value}"') if quoted else int(value), quoted)


# ---------------------------------------------------------------------------------------------------------------
# Transports: each sends a command and returns the next message as the exact JSON text the session received.


class WebSocketSession:
    def __init__(self, server, messagepack):
        from websockets.sync.client import connect

        self.messagepack = messagepack
        protocol = "switchboard.v1.msgpack" if messagepack else "switchboard.v1.json"
        self.exit_stack = contextlib.ExitStack()  # websockets 17 wants its connection used as a context manager
        self.socket = self.exit_stack.enter_context(
            connect(f"ws://127.0.0.1:{server.port}/connection/websocket", subprotocols=[protocol], open_timeout=TIMEOUT))

    def send(self, command_text):
        if self.messagepack:
            import msgpack

            self.socket.send(msgpack.packb(json.loads(command_text), use_bin_type=True))
        else:
            self.socket.send(command_text)

    def receive(self):
        frame = self.socket.recv(timeout=TIMEOUT)
        if self.messagepack:
            import msgpack

            assert isinstance(frame, bytes), "a MessagePack session gets binary frames"
            return minified(msgpack.unpackb(frame, raw=False))
        assert isinstance(frame, str), "a JSON session gets text frames"
        return frame

    def close(self):
        self.exit_stack.close()


def post_json(url, body, headers=None):
    request = urllib.request.Request(url, data=body.encode(), method="POST",
                                     headers={"content-type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


class SSESession:
    def __init__(self, server):
        self.server = server
        self.socket = socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT)
        self.socket.sendall(b"GET /connection/sse HTTP/1.1\r\nhost: 127.0.0.1\r\naccept: text/event-stream\r\n\r\n")
        self.buffer = b""
        head = self._read_until(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head
        session = json.loads(self.receive())
        assert session["push"] == "session", session
        self.address = session["session"]

    def _read_until(self, delimiter):
        while delimiter not in self.buffer:
            chunk = self.socket.recv(65536)
            if not chunk:
                raise AssertionError("the SSE stream ended")
            self.buffer += chunk
        head, self.buffer = self.buffer.split(delimiter, 1)
        return head

    def send(self, command_text):
        status, body = post_json(f"{self.server.url}/connection/{self.address}/command", command_text)
        assert status == 202, (status, body)

    def receive(self):
        while True:
            event = self._read_until(b"\n\n").decode()
            data = [line[len("data: "):] for line in event.split("\n") if line.startswith("data: ")]
            if data:  # `retry:` alone is no message
                return "\n".join(data)

    def close(self):
        self.socket.close()


class PollSession:
    def __init__(self, server):
        self.server = server
        status, body = post_json(f"{server.url}/connection/poll", "")
        assert status == 200, (status, body)
        self.address = json.loads(body)["session"]
        self.ack = 0
        self.waiting = []

    def send(self, command_text):
        status, body = post_json(f"{self.server.url}/connection/{self.address}/command", command_text)
        assert status == 202, (status, body)

    def receive(self):
        while not self.waiting:
            url = f"{self.server.url}/connection/poll/{self.address}?ack={self.ack}&timeout={TIMEOUT * 1000}"
            with urllib.request.urlopen(url, timeout=TIMEOUT + 5) as response:
                batch = json.loads(response.read())
            self.waiting += [minified(message) for message in batch["messages"]]
            self.ack = batch["seq"]
        return self.waiting.pop(0)

    def close(self):
        urllib.request.urlopen(urllib.request.Request(f"{self.server.url}/connection/poll/{self.address}",
                                                      method="DELETE"), timeout=TIMEOUT).read()


def open_session(server, transport):
    if transport.startswith("websocket"):
        return WebSocketSession(server, messagepack=transport.endswith("msgpack"))
    return SSESession(server) if transport == "sse" else PollSession(server)


# ---------------------------------------------------------------------------------------------------------------
# Running a transcript


def read_steps(path):
    steps = []
    for number, line in enumerate(open(path, encoding="utf-8"), start=1):
        line = line.rstrip("\n")
        if not line.strip() or line.startswith("#"):
            continue
        kind, _, text = line.partition(" ")
        if kind not in (">", "<", "api"):
            raise ValueError(f"{path}:{number}: a step starts with '>', '<' or 'api'")
        steps.append((number, kind, text))
    return steps


def api_publish(server, body_text):
    status, body = post_json(f"{server.url}/api/publish", body_text, {"authorization": f"apikey {API_KEY}"})
    assert status == 200, (status, body)


@contextlib.contextmanager
def fresh_server():
    """A server of its own for each run, so offsets and presence start from nothing."""
    server = start_server(*SERVER_ARGUMENTS)
    try:
        yield server
    finally:
        server.process.terminate()
        server.process.wait(timeout=15)


def replay(server, transport, path, record=False):
    """Runs the transcript at `path` over `transport`; with `record`, prints what the server sent instead of checking."""
    session = open_session(server, transport)
    bindings = Bindings()
    try:
        for number, kind, text in read_steps(path):
            if kind == ">":
                session.send(bindings.substitute(text))
            elif kind == "api":
                api_publish(server, bindings.substitute(text))
            else:
                actual = session.receive()
                try:
                    bindings.expect(text, actual)
                except AssertionError as error:
                    if not record:
                        raise AssertionError(f"{os.path.basename(path)}:{number} over {transport}: {error}") from None
                    print(f"# line {number} differs:")
                if record:
                    print("<", actual)
    finally:
        session.close()


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] != "record":
        sys.exit("usage: transcripts.py record FILE...")
    for path in sys.argv[2:]:
        for transport in TRANSPORTS:
            print(f"## {path} over {transport}")
            with fresh_server() as server:
                replay(server, transport, path, record=True)
