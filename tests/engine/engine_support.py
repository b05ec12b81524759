"""Helpers of the engine's end-to-end tests (tests/engine): the real `switchboard` binary on a data directory, and
independent clients for every transport written against docs/protocol.md (WebSocket with the `websockets` package,
SSE and long-poll over plain asyncio streams), each keeping its own record of what it received.

Every wait is on a condition with a deadline; nothing sleeps to synchronise. A subscriber that loses its connection
waits for the hub to be up again (the test restarts it) and resubscribes from the last position it saw.
"""
import asyncio
import base64
import hashlib
import hmac
import http.client
import json
import os
import pathlib
import re
import signal
import subprocess
import tempfile
import threading
import time
import urllib.parse

import pytest
import websockets

ROOT = pathlib.Path(__file__).resolve().parents[2]
BINARY = os.environ.get("SWITCHBOARD_BIN", str(ROOT / ".build" / "debug" / "switchboard"))
API_KEY = "engine-test-key-0123456789"
BANNER = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")


def hub_environment(data_directory, extra=None):
    """The process environment of a hub: no SWITCHBOARD_* settings from outside, the test's API key and data directory."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("SWITCHBOARD_")}
    environment["SWITCHBOARD_API_KEY"] = API_KEY
    environment["SWITCHBOARD_ENGINE_SQLITE_PATH"] = str(data_directory)
    environment.update(extra or {})
    return environment


def run_serve_until_exit(data_directory, *extra, timeout=60):
    """Runs `switchboard serve` that is expected to refuse to start; returns the finished process."""
    return subprocess.run(
        [BINARY, "serve", "--port", "0", *extra],
        env=hub_environment(data_directory), capture_output=True, text=True, timeout=timeout,
    )


class ServerProcess:
    """A `switchboard serve` run synchronously (for tests without asyncio): started, asked over HTTP, stopped."""

    def __init__(self, data_directory, *extra, log_path=None, environment=None, port=0):
        self.log = open(log_path or os.devnull, "ab")
        self.process = subprocess.Popen(
            [BINARY, "serve", "--port", str(port), *extra], env=hub_environment(data_directory, environment),
            stdout=subprocess.PIPE, stderr=self.log,
        )
        for line in self.process.stdout:  # the banner's first line names the bound port: wait for it, no sleeping
            match = BANNER.search(line.decode(errors="replace"))
            if match:
                self.port = int(match.group(1))
                threading.Thread(target=self._drain, daemon=True).start()
                return
        self.process.wait()
        raise AssertionError(f"switchboard exited with {self.process.returncode} before listening")

    def _drain(self):
        for line in self.process.stdout:
            self.log.write(line)

    def request(self, method, target, body=None, api_key=True):
        """One HTTP request; returns status, headers (lower-case names) and the body's bytes."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            payload = None if body is None else json.dumps(body)
            connection.request(method, target, payload, api_headers() if api_key else {})
            response = connection.getresponse()
            return response.status, {name.lower(): value for name, value in response.getheaders()}, response.read()
        finally:
            connection.close()

    def stop(self, signal_number=signal.SIGTERM):
        if self.process.poll() is None:
            self.process.send_signal(signal_number)
        status = self.process.wait(timeout=60)
        self.log.close()
        return status


def can_mount_tmpfs():
    """Whether this process may mount a tmpfs (root, and a kernel or container that allows it)."""
    if os.geteuid() != 0:
        return False
    probe = tempfile.mkdtemp(prefix="switchboard-mount-probe-")
    try:
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", probe], capture_output=True).returncode != 0:
            return False
        return subprocess.run(["umount", probe], capture_output=True).returncode == 0
    finally:
        os.rmdir(probe)


needs_mount = pytest.mark.skipif(not can_mount_tmpfs(), reason="needs root and permission to mount a tmpfs")


def wait_until_sync(condition, timeout, what):
    """`wait_until` for tests without an event loop; `condition` may ask the server (a request per check)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)  # polling interval of the condition, not a synchronisation delay


async def wait_until(condition, timeout, what, detail=lambda: ""):
    """Checks `condition` (cheap, in-process state) every 50 ms until it holds; fails when the deadline passes, with
    `detail()` (the state that explains why) in the message."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}; {detail()}")
        await asyncio.sleep(0.05)  # polling interval of a condition on local state, not a synchronisation delay


class Hub:
    """One `switchboard serve` process on a data directory; restartable on the same port.

    `up` is set while clients may connect; the test clears it before it stops the process, so a client that loses its
    connection waits for the restart instead of racing it. `generation` counts starts.
    """

    def __init__(self, data_directory, log_path, settings=()):
        self.data_directory = data_directory
        self.log_path = log_path
        self.settings = list(settings)
        self.process = None
        self.port = 0
        self.generation = 0
        self.up = asyncio.Event()
        self._drain = None

    @property
    def address(self):
        return ("127.0.0.1", self.port)

    async def start(self, timeout=120):
        arguments = ["serve", "--port", str(self.port)]
        for setting in self.settings:
            arguments += ["--set", setting]
        log = open(self.log_path, "ab")
        log.write(f"--- start {self.generation + 1} on port {self.port}\n".encode())
        log.flush()
        self.process = await asyncio.create_subprocess_exec(
            BINARY, *arguments, env=hub_environment(self.data_directory), stdout=asyncio.subprocess.PIPE, stderr=log
        )
        log.close()
        # The banner's first line names the bound port: wait for it instead of sleeping.
        deadline = time.monotonic() + timeout
        while True:
            line = await asyncio.wait_for(self.process.stdout.readline(), max(0.1, deadline - time.monotonic()))
            if not line:
                await self.process.wait()
                raise AssertionError(f"switchboard exited with {self.process.returncode} before listening (log: {self.log_path})")
            match = BANNER.search(line.decode(errors="replace"))
            if match:
                self.port = int(match.group(1))
                break
        self._drain = asyncio.ensure_future(self._drain_stdout(self.process))
        self.generation += 1
        self.up.set()

    async def _drain_stdout(self, process):
        with open(self.log_path, "ab") as log:
            while line := await process.stdout.readline():
                log.write(line)

    async def stop(self, signal_number, timeout=60):
        """Clears `up`, sends the signal and waits for the process to end; returns its exit status."""
        self.up.clear()
        self.process.send_signal(signal_number)
        status = await asyncio.wait_for(self.process.wait(), timeout)
        if self._drain:
            await self._drain
        return status

    async def close(self):
        self.up.clear()
        if self.process and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except asyncio.TimeoutError:
                self.process.kill()
                await self.process.wait()
        if self._drain:
            await self._drain


# MARK: plain HTTP/1.1 over asyncio streams


class ConnectionLost(Exception):
    """The connection ended before a complete response: the request may or may not have been processed."""


class HTTPConnection:
    """A keep-alive HTTP/1.1 connection: one request at a time, `content-length` or chunked responses."""

    def __init__(self, reader, writer):
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, address, timeout=10):
        reader, writer = await asyncio.wait_for(asyncio.open_connection(*address), timeout)
        return cls(reader, writer)

    def close(self):
        self.writer.close()

    async def request(self, method, target, body=None, headers=None, timeout=30):
        payload = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        lines = [f"{method} {target} HTTP/1.1", "host: 127.0.0.1", f"content-length: {len(payload)}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        try:
            self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + payload)
            await self.writer.drain()
            return await asyncio.wait_for(self._response(), timeout)
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError) as error:
            raise ConnectionLost(repr(error)) from error

    async def _response(self):
        status_line = await self.reader.readuntil(b"\r\n")
        status = int(status_line.split(b" ")[1])
        headers = {}
        while (line := await self.reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while (size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)) > 0:
                body += await self.reader.readexactly(size)
                await self.reader.readexactly(2)
            await self.reader.readuntil(b"\r\n")
        else:
            body = await self.reader.read()
        return status, headers, body


async def http_request(address, method, target, body=None, headers=None, timeout=30):
    """One request on a connection of its own."""
    connection = await HTTPConnection.open(address)
    try:
        return await connection.request(method, target, body, headers, timeout)
    finally:
        connection.close()


def api_headers():
    return {"authorization": f"apikey {API_KEY}", "content-type": "application/json"}


HMAC_SECRET = "engine-test-hmac-secret-0123456789abcdef"


def token(subject, token_id=None, secret=HMAC_SECRET, lifetime=3600):
    """An HS256 connection token for hubs started with `auth.hmac_secret` = HMAC_SECRET; `token_id` is its `jti`."""
    def encode(part):
        return base64.urlsafe_b64encode(json.dumps(part, separators=(",", ":")).encode()).rstrip(b"=").decode()

    claims = {"sub": subject, "exp": int(time.time()) + lifetime}
    if token_id is not None:
        claims["jti"] = token_id
    signing_input = encode({"alg": "HS256", "typ": "JWT"}) + "." + encode(claims)
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()


async def full_history(address, channel, epoch):
    """Every publication the hub holds for `channel` in `epoch`, oldest first, paged through GET /api/history."""
    publications, after = [], 0
    while True:
        query = urllib.parse.urlencode({"channel": channel, "since": f"{epoch}:{after}", "limit": 1000})
        status, _, body = await http_request(address, "GET", f"/api/history?{query}", headers=api_headers())
        assert status == 200, (status, body)
        page = json.loads(body)
        assert page["epoch"] == epoch and page["recovered"] is True, page
        publications += page["publications"]
        if not page["publications"] or page["publications"][-1]["offset"] >= page["offset"]:
            return page["offset"], publications
        after = page["publications"][-1]["offset"]


# MARK: publishers


class Publishers:
    """Publishes `{"p": N}` over POST /api/publish at a fixed rate, round-robin over the channels, from a pool of
    keep-alive connections, and sorts every attempt by what its publisher can know about it:

    - answered: 200 with channel, epoch and offset — must be delivered to every subscriber of the channel;
    - unanswered: the request was sent but the connection ended first (the server was killed) — may or may not exist;
    - not sent: no connection could be opened (the server was down) — must never appear;
    - refused: any other answer (should not happen; reported by the test).
    """

    def __init__(self, hub, channels, rate, workers=16, first_number=1):
        self.hub = hub
        self.first_number = first_number  # several publishers at once number apart: `p` then names one attempt
        self.channels = channels
        self.rate = rate
        self.workers = workers
        self.attempted = {}
        self.answered = {}
        self.unanswered = set()
        self.not_sent = set()
        self.refused = {}
        self._queue = asyncio.Queue()
        self._tasks = []

    def start(self):
        self._tasks = [asyncio.ensure_future(self._tick())] + [asyncio.ensure_future(self._work()) for _ in range(self.workers)]

    async def stop(self):
        """Stops issuing new publications and waits until every attempt has its outcome."""
        self._tasks[0].cancel()
        await asyncio.gather(self._tasks[0], return_exceptions=True)
        self.seconds = time.monotonic() - self.started
        await asyncio.wait_for(self._queue.join(), 120)
        for task in self._tasks[1:]:
            task.cancel()
        await asyncio.gather(*self._tasks[1:], return_exceptions=True)

    async def _tick(self):
        self.started = time.monotonic()
        count = 0
        while True:
            # Every publication that is due by now, so a busy event loop does not lower the rate.
            while count < (time.monotonic() - self.started) * self.rate:
                number = self.first_number + count
                count += 1
                channel = self.channels[number % len(self.channels)]
                self.attempted[number] = channel
                self._queue.put_nowait((number, channel))
            # Pacing the load at `rate` per second, not waiting for anything.
            await asyncio.sleep(max(0.0, self.started + (count + 1) / self.rate - time.monotonic()))

    async def _work(self):
        connection = None
        while True:
            number, channel = await self._queue.get()
            try:
                if connection is None:
                    try:
                        connection = await HTTPConnection.open(self.hub.address, timeout=5)
                    except (OSError, asyncio.TimeoutError):
                        self.not_sent.add(number)
                        continue
                try:
                    status, _, body = await connection.request(
                        "POST", "/api/publish", {"channel": channel, "data": {"p": number}}, api_headers())
                except ConnectionLost:
                    connection.close()
                    connection = None
                    self.unanswered.add(number)
                    continue
                if status == 200:
                    answer = json.loads(body)
                    self.answered[number] = (answer["channel"], answer["epoch"], answer["offset"])
                else:
                    self.refused[number] = (status, body)
                if status != 200:
                    connection.close()
                    connection = None
            finally:
                self._queue.task_done()


# MARK: subscribers


class StreamRecord:
    """What one subscriber received on its channel, and every anomaly in it, counted as the issue defines them."""

    def __init__(self, name, channel):
        self.name = name
        self.channel = channel
        self.epoch = None
        self.offset = None  # last offset seen, None before the first subscription answered
        self.received = {}  # offset -> publication data (the publisher's number)
        self.missing = set()  # offsets skipped over by a later one
        self.duplicated = 0
        self.out_of_order = 0
        self.resets = []
        self.epoch_changes = []
        self.recoveries = 0
        self.subscribed_generation = 0
        self.connections = 0
        self.errors = []
        self.transport = None  # the current connection's asyncio transport (the soak aborts it to vanish)

    @property
    def position(self):
        return None if self.epoch is None else {"epoch": self.epoch, "offset": self.offset}

    def subscribed(self, result, generation):
        """Applies a subscribe answer (WebSocket reply, SSE start event, poll reply) or a `reset` push and counts its
        recovery outcome; after a reset the record continues from the position the server named."""
        if self.epoch is None:
            self.epoch, self.offset = result["epoch"], result["offset"]
        elif result.get("recovered") is True:
            self.recoveries += 1
            if result["epoch"] != self.epoch:
                self.epoch_changes.append((self.epoch, result["epoch"]))
        else:
            self.resets.append(result)
            self.epoch, self.offset = result["epoch"], result["offset"]
        self.subscribed_generation = generation

    def message(self, message, generation):
        """Applies one protocol message (a WebSocket frame's, a long-poll answer's): the subscribe reply (id 1), a
        publication, a reset. False when the session is over (the subscribe was refused, or a disconnect push)."""
        if message.get("id") == 1:
            if "error" in message:
                self.errors.append(("subscribe", message["error"]))
                return False
            self.subscribed(message["result"], generation)
        elif message.get("push") == "publication":
            self.publication(message)
        elif message.get("push") == "reset":
            self.subscribed(message, generation)
        elif message.get("push") == "disconnect":
            return False
        return True

    def publication(self, push):
        if push["channel"] != self.channel:
            self.errors.append(("publication of another channel", push))
            return
        if push["epoch"] != self.epoch:
            self.epoch_changes.append((self.epoch, push["epoch"]))
            return
        offset, number = push["offset"], push["data"]["p"]
        if offset in self.missing:
            self.missing.discard(offset)
            self.out_of_order += 1
            self.received[offset] = number
        elif offset in self.received:
            self.duplicated += 1
        elif offset < self.offset:
            self.out_of_order += 1  # before this subscription's start: never expected
            self.received[offset] = number
        else:
            self.missing.update(range(self.offset + 1, offset))
            self.received[offset] = number
            self.offset = offset


class WebSocketSubscriber(StreamRecord):
    """`/connection/websocket`, subprotocol switchboard.v1.json: `subscribe` with `since` after every reconnect."""

    async def run(self, hub):
        while True:
            await hub.up.wait()
            generation = hub.generation
            await self.session(hub, generation)
            if hub.up.is_set() and hub.generation == generation:
                await asyncio.sleep(0.1)  # backoff before reconnecting to the same server (it dropped us on its own)

    async def session(self, hub, generation):
        """One connection: subscribe (from the last position after the first), record what arrives until it ends."""
        subscribe = {"id": 1, "cmd": "subscribe", "channel": self.channel}
        if self.position:
            subscribe["since"] = self.position
        try:
            async with websockets.connect(
                f"ws://127.0.0.1:{hub.port}/connection/websocket", subprotocols=["switchboard.v1.json"],
                open_timeout=30, max_queue=None, ping_interval=None,
            ) as socket:
                self.transport = socket.transport
                self.connections += 1
                await socket.send(json.dumps(subscribe))
                async for text in socket:
                    if not self.message(json.loads(text), generation):
                        return
        except (OSError, asyncio.TimeoutError, websockets.exceptions.WebSocketException):
            pass


class SSESubscriber(StreamRecord):
    """`/connection/sse?channel=C`, resuming with `Last-Event-ID` = the last position it saw."""

    async def run(self, hub):
        while True:
            await hub.up.wait()
            generation = hub.generation
            await self.session(hub, generation)
            if hub.up.is_set() and hub.generation == generation:
                await asyncio.sleep(0.1)  # backoff before reconnecting to the same server

    async def session(self, hub, generation):
        """One stream, resumed from the last position after the first, recorded until it ends."""
        try:
            await self._stream(hub, generation)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError, ConnectionLost):
            pass

    async def _stream(self, hub, generation):
        reader, writer = await asyncio.wait_for(asyncio.open_connection(*hub.address), 30)
        self.transport = writer.transport
        try:
            lines = [f"GET /connection/sse?channel={urllib.parse.quote(self.channel)} HTTP/1.1", "host: 127.0.0.1",
                     "accept: text/event-stream"]
            if self.position:
                lines.append(f"last-event-id: {self.epoch}:{self.offset}")
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
            await writer.drain()
            status = int((await reader.readuntil(b"\r\n")).split(b" ")[1])
            while await reader.readuntil(b"\r\n") != b"\r\n":
                pass
            if status != 200:
                self.errors.append(("sse status", status, generation))
                return
            self.connections += 1
            event_id, data = None, []
            while line := await reader.readline():
                line = line.rstrip(b"\r\n").decode()
                if line == "":
                    if data:
                        self._event(event_id, json.loads("\n".join(data)), generation)
                    event_id, data = None, []
                elif line.startswith("id:"):
                    event_id = line[3:].lstrip(" ")
                elif line.startswith("data:"):
                    data.append(line[5:].lstrip(" "))
        finally:
            writer.close()

    def _event(self, event_id, push, generation):
        kind = push.get("push")
        if kind in ("subscribed", "reset"):
            self.subscribed(push, generation)
        elif kind == "publication":
            self.publication(push)
            if event_id != f"{push['epoch']}:{push['offset']}":
                self.errors.append(("sse id does not name the publication", event_id, push["offset"]))


class PollSubscriber(StreamRecord):
    """`/connection/poll`: open a session, `subscribe` with `since` over the command endpoint, poll with `ack`."""

    async def run(self, hub):
        while True:
            await hub.up.wait()
            generation = hub.generation
            await self.session(hub, generation)
            if hub.up.is_set() and hub.generation == generation:
                await asyncio.sleep(0.1)  # backoff before a new session on the same server

    async def session(self, hub, generation):
        """One long-poll session, subscribed from the last position after the first, recorded until it ends."""
        try:
            await self._session(hub, generation)
        except (OSError, asyncio.TimeoutError, ConnectionLost, asyncio.IncompleteReadError):
            pass

    async def _session(self, hub, generation):
        status, _, body = await http_request(hub.address, "POST", "/connection/poll")
        if status != 200:
            self.errors.append(("poll open", status, body))
            return
        session = json.loads(body)["session"]
        self.connections += 1
        subscribe = {"id": 1, "cmd": "subscribe", "channel": self.channel}
        if self.position:
            subscribe["since"] = self.position
        status, _, body = await http_request(hub.address, "POST", f"/connection/{session}/command", subscribe)
        if status != 202:
            self.errors.append(("poll command", status, body))
            return
        connection = await HTTPConnection.open(hub.address)
        self.transport = connection.writer.transport
        try:
            ack = 0
            while True:
                status, _, body = await connection.request("GET", f"/connection/poll/{session}?ack={ack}&timeout=5000", timeout=30)
                if status == 404:
                    return  # the session ended (its disconnect push came before): open a new one
                if status != 200:
                    self.errors.append(("poll", status, body))
                    return
                answer = json.loads(body)
                for message in answer["messages"]:
                    if not self.message(message, generation):
                        return
                ack = answer["seq"]
        finally:
            connection.close()
