"""Two `switchboard serve --engine postgres` processes on one PostgreSQL database are two nodes of a cluster: a
WebSocket subscriber on node 1 receives what is published over HTTP on node 2, and after node 1 is killed (SIGKILL) it
resubscribes on node 2 with `since` and misses nothing: 0 lost, 0 duplicated, no reset. Signals and presence are
shared; `POST /api/disconnect` and `POST /api/revoke` asked of one node act on the others' sessions.

PostgreSQL comes from SWITCHBOARD_TEST_POSTGRES_URL (scripts/test.sh starts one with scripts/postgres-test-server.sh).
Without it this test fails, unless SWITCHBOARD_TEST_ALLOW_NO_POSTGRES=1 (quick local runs) leaves it out.
"""
import asyncio
import json
import os
import pathlib
import signal
import subprocess

import pytest
import websockets

from cluster_support import Node, database, needs_postgres  # noqa: F401 (database is a fixture)
from engine_support import API_KEY, BINARY, HMAC_SECRET, api_headers, token, wait_until_sync


async def receive_until(socket, record, count, timeout=30):
    """Reads pushes into `record` (offset -> number) until it holds `count` publications."""
    async def read():
        while len(record["offsets"]) < count:
            message = json.loads(await socket.recv())
            if message.get("push") == "publication":
                record["offsets"].append(message["offset"])
                record["numbers"].append(message["data"]["p"])
            elif message.get("push") == "reset":
                record["resets"] += 1
    await asyncio.wait_for(read(), timeout)


async def subscribe(port, channel, since=None):
    socket = await websockets.connect(
        f"ws://127.0.0.1:{port}/connection/websocket", subprotocols=["switchboard.v1.json"], open_timeout=30, ping_interval=None
    )
    command = {"id": 1, "cmd": "subscribe", "channel": channel}
    if since:
        command["since"] = since
    await socket.send(json.dumps(command))
    while True:
        message = json.loads(await asyncio.wait_for(socket.recv(), 30))
        if message.get("id") == 1:
            assert "result" in message, message
            return socket, message["result"]


@needs_postgres
def test_a_subscriber_on_one_node_gets_what_another_node_publishes_and_recovers_there_after_a_kill9(database, tmp_path):
    channel = "chat:cluster"
    node1 = Node(database, tmp_path / "node1.log")
    node2 = Node(database, tmp_path / "node2.log")
    record = {"offsets": [], "numbers": [], "resets": 0}

    async def scenario():
        socket, first = await subscribe(node1.port, channel)
        epoch = first["epoch"]
        answered = [node2.publish(channel, n) for n in range(1, 51)]
        assert [a["offset"] for a in answered] == list(range(1, 51))
        await receive_until(socket, record, 50)
        node1.stop(signal.SIGKILL)
        await socket.close()
        # Published while the subscriber is away (its node is dead).
        answered.extend(node2.publish(channel, n) for n in range(51, 101))
        position = {"epoch": epoch, "offset": record["offsets"][-1]}
        socket, resumed = await subscribe(node2.port, channel, since=position)
        assert resumed.get("recovered") is True, resumed
        assert resumed["epoch"] == epoch
        for publication in resumed.get("publications", []):
            record["offsets"].append(publication["offset"])
            record["numbers"].append(publication["data"]["p"])
        answered.extend(node2.publish(channel, n) for n in range(101, 111))
        await receive_until(socket, record, 110)
        await socket.close()
        return answered

    try:
        answered = asyncio.run(scenario())
    finally:
        node1.stop(signal.SIGKILL)
        node2.stop()
    assert all(a["epoch"] == answered[0]["epoch"] for a in answered)
    assert record["offsets"] == list(range(1, 111)), "lost, duplicated or out of order"
    assert record["numbers"] == list(range(1, 111))
    assert record["resets"] == 0


@needs_postgres
def test_a_signal_sent_on_one_node_reaches_the_subscribers_on_the_other(database, tmp_path):
    channel = "chat:typing"
    node1 = Node(database, tmp_path / "node1.log")
    node2 = Node(database, tmp_path / "node2.log")

    async def next_push(socket, kind):
        while True:
            message = json.loads(await asyncio.wait_for(socket.recv(), 30))
            if message.get("push") == kind:
                return message

    async def scenario():
        watcher, _ = await subscribe(node1.port, channel)
        typist, _ = await subscribe(node2.port, channel)
        await typist.send(json.dumps({"id": 2, "cmd": "signal", "channel": channel, "type": "typing", "data": {"typing": True}}))
        seen_by_typist = await next_push(typist, "signal")  # its own node delivers it too
        seen_by_watcher = await next_push(watcher, "signal")
        for socket in (watcher, typist):
            await socket.close()
        return seen_by_typist, seen_by_watcher

    try:
        own, remote = asyncio.run(scenario())
    finally:
        node1.stop()
        node2.stop()
    assert remote == own
    assert remote["type"] == "typing" and remote["data"] == {"typing": True} and remote["channel"] == channel


@needs_postgres
def test_presence_is_shared_by_the_nodes_and_a_killed_node_s_members_leave(database, tmp_path):
    channel = "room:cluster"
    presence = ("--set", "namespaces.room.presence=true")
    node1 = Node(database, tmp_path / "node1.log", *presence)
    node2 = Node(database, tmp_path / "node2.log", *presence)

    async def next_push(socket, kind):
        while True:
            message = json.loads(await asyncio.wait_for(socket.recv(), 30))
            if message.get("push") == kind:
                return message

    async def connect(port, name):
        socket = await websockets.connect(
            f"ws://127.0.0.1:{port}/connection/websocket", subprotocols=["switchboard.v1.json"], open_timeout=30, ping_interval=None)
        await socket.send(json.dumps({"id": 1, "cmd": "connect", "info": {"name": name}}))
        while True:
            message = json.loads(await asyncio.wait_for(socket.recv(), 30))
            if message.get("id") == 1:
                return socket, message["result"]["client"]

    async def subscribed(socket):
        await socket.send(json.dumps({"id": 2, "cmd": "subscribe", "channel": channel}))
        while True:
            message = json.loads(await asyncio.wait_for(socket.recv(), 30))
            if message.get("id") == 2:
                return message["result"]["presence"]

    async def scenario():
        watcher, watcher_id = await connect(node2.port, "watcher")
        await subscribed(watcher)
        await next_push(watcher, "join")  # its own
        visitor, visitor_id = await connect(node1.port, "visitor")
        snapshot = await subscribed(visitor)
        # The visitor on node 1 sees the watcher on node 2 in its snapshot, and the watcher sees the visitor join.
        names = sorted(member["info"]["name"] for member in snapshot["members"])
        join = await next_push(watcher, "join")
        node1.stop(signal.SIGKILL)  # its members cannot say goodbye
        leave = await next_push(watcher, "leave")
        await watcher.close()
        return names, snapshot["clients"], join, leave, visitor_id

    try:
        names, clients, join, leave, visitor_id = asyncio.run(scenario())
    finally:
        node1.stop(signal.SIGKILL)
        node2.stop()
    assert names == ["visitor", "watcher"] and clients == 2
    assert join["client"] == visitor_id and join["info"] == {"name": "visitor"}
    assert leave["client"] == visitor_id  # within the node timeout (10 s) of the kill


async def connected_as(port, bearer):
    """A protocol WebSocket opened with a token in its upgrade, checked with a ping."""
    socket = await websockets.connect(
        f"ws://127.0.0.1:{port}/connection/websocket", subprotocols=["switchboard.v1.json"], open_timeout=30, ping_interval=None,
        additional_headers={"authorization": f"Bearer {bearer}"})
    await socket.send(json.dumps({"id": 1, "cmd": "ping"}))
    assert "result" in json.loads(await asyncio.wait_for(socket.recv(), 30))
    return socket


async def close_of(socket):
    """Reads until the server closes: the close frame's code and reason, and the `disconnect` push before it."""
    push = None
    try:
        while True:
            message = json.loads(await asyncio.wait_for(socket.recv(), 30))
            if message.get("push") == "disconnect":
                push = message
    except websockets.ConnectionClosed as closed:
        return closed.rcvd.code, closed.rcvd.reason, push


@needs_postgres
def test_disconnect_and_revocation_asked_of_one_node_act_on_the_other(database, tmp_path):
    keys = ("--set", f"auth.hmac_secret={HMAC_SECRET}")
    node1 = Node(database, tmp_path / "node1.log", *keys)
    node2 = Node(database, tmp_path / "node2.log", *keys)
    revoked, kept = token("carol", token_id="t-revoked"), token("carol", token_id="t-kept")

    async def scenario():
        alice = await connected_as(node2.port, token("alice"))
        bob = await connected_as(node2.port, token("bob"))
        carol = await connected_as(node2.port, revoked)
        carol_kept = await connected_as(node2.port, kept)
        status, _, body = node1.request("POST", "/api/disconnect", {"user": "alice"})
        assert status == 200, body
        alice_closed = await close_of(alice)
        status, _, body = node1.request("POST", "/api/revoke", {"token_id": "t-revoked"})
        assert status == 200, body
        carol_closed = await close_of(carol)
        for socket, number in ((bob, 2), (carol_kept, 3)):  # the others stay connected
            await socket.send(json.dumps({"id": number, "cmd": "ping"}))
            assert "result" in json.loads(await asyncio.wait_for(socket.recv(), 30))
        with pytest.raises(websockets.InvalidStatus) as refused:
            await connected_as(node2.port, revoked)
        for socket in (bob, carol_kept):
            await socket.close()
        return alice_closed, carol_closed, refused.value.response

    try:
        alice_closed, carol_closed, refusal = asyncio.run(scenario())
        # A node started after the revocation refuses the token too (it reads the revocations when it connects).
        node3 = Node(database, tmp_path / "node3.log", *keys)
        try:
            late = asyncio.run(refused_upgrade(node3.port, revoked))
        finally:
            node3.stop()
    finally:
        node1.stop()
        node2.stop()
    assert alice_closed[:2] == (4005, "disconnected by the server")
    assert alice_closed[2] == {"push": "disconnect", "code": 4005, "reason": "disconnected by the server", "reconnect": True}
    assert carol_closed[:2] == (4501, "token revoked")
    assert refusal.status_code == 401 and json.loads(refusal.body)["error"]["reason"] == "token was revoked"
    assert late == 401


async def refused_upgrade(port, bearer):
    try:
        socket = await connected_as(port, bearer)
    except websockets.InvalidStatus as refused:
        return refused.response.status_code
    await socket.close()
    return 101


def test_a_postgres_engine_without_a_usable_url_refuses_to_start_naming_the_key(tmp_path):
    environment = {key: value for key, value in os.environ.items() if not key.startswith("SWITCHBOARD_")}
    environment.update(SWITCHBOARD_API_KEY=API_KEY, SWITCHBOARD_ENGINE_TYPE="postgres")
    missing = subprocess.run([BINARY, "serve", "--port", "0"], env=environment, capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2
    assert "switchboard: configuration error: engine.postgres.url: set the PostgreSQL URL" in missing.stderr
    environment["SWITCHBOARD_ENGINE_POSTGRES_URL"] = "postgres://switchboard@127.0.0.1:5432"
    no_database = subprocess.run([BINARY, "serve", "--port", "0"], env=environment, capture_output=True, text=True, timeout=60)
    assert no_database.returncode == 2
    assert "engine.postgres.url: the URL names no database (…/DATABASE)" in no_database.stderr
    # Where other nodes forward this node's session requests: needed when it listens on every address, and an http URL.
    environment["SWITCHBOARD_ENGINE_POSTGRES_URL"] = "postgres://switchboard@127.0.0.1:5432/switchboard"
    for arguments, reason in (
        (["--host", "0.0.0.0"], "engine.postgres.advertise_url: server.host 0.0.0.0 listens on every address: set the http://HOST:PORT other nodes reach this one at"),
        (["--set", "engine.postgres.advertise_url=https://10.0.0.1:8080"], "engine.postgres.advertise_url: not http://HOST:PORT"),
    ):
        refused = subprocess.run([BINARY, "serve", "--port", "0", *arguments], env=environment, capture_output=True, text=True, timeout=60)
        assert refused.returncode == 2 and f"switchboard: configuration error: {reason}" in refused.stderr, refused.stderr


@pytest.fixture
def private_postgres():
    """A PostgreSQL of the test's own (it is stopped and started), removed afterwards."""
    script = str(pathlib.Path(__file__).resolve().parents[2] / "scripts" / "postgres-test-server.sh")
    output = subprocess.run(["bash", script, "start"], check=True, capture_output=True, text=True, stdin=subprocess.DEVNULL).stdout
    directory, url = output.split()[:2]
    server = {"url": url, "stop": lambda: subprocess.run(["bash", script, "stop", directory], check=True, capture_output=True),
              "start": lambda: subprocess.run(["bash", script, "start-again", directory], check=True, capture_output=True)}
    yield server
    subprocess.run(["bash", script, "remove", directory], capture_output=True)


def publish_answer(node, channel, number):
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", node.port, timeout=30)
    try:
        connection.request("POST", "/api/publish", json.dumps({"channel": channel, "data": {"p": number}}), api_headers())
        response = connection.getresponse()
        return response.status, {name.lower(): value for name, value in response.getheaders()}, json.loads(response.read())
    finally:
        connection.close()


def test_while_postgresql_is_stopped_readyz_and_publishes_answer_503_and_publishing_continues_after(private_postgres, tmp_path):
    channel = "chat:outage"
    node = Node(private_postgres["url"], tmp_path / "node.log")
    try:
        status, _, first = publish_answer(node, channel, 1)
        assert status == 200 and first["offset"] == 1
        private_postgres["stop"]()
        wait_until_sync(lambda: node.status("/readyz") == 503, 30, "/readyz 503 while PostgreSQL is stopped")
        status, headers, body = publish_answer(node, channel, 2)
        assert status == 503, (status, body)
        assert headers.get("retry-after") == "1"
        assert body["error"]["name"] == "engine_unavailable"
        private_postgres["start"]()
        wait_until_sync(lambda: node.status("/readyz") == 200, 60, "/readyz 200 once PostgreSQL is back")
        status, _, after = publish_answer(node, channel, 3)
        assert status == 200, after
        assert (after["epoch"], after["offset"]) == (first["epoch"], 2)
    finally:
        node.stop()


def http(node, method, target, body=None, headers=None):
    """One request without the API key (session endpoints need none); status and parsed JSON body (None if empty)."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", node.port, timeout=60)
    try:
        connection.request(method, target, None if body is None else json.dumps(body),
                           {"content-type": "application/json", **(headers or {})})
        response = connection.getresponse()
        payload = response.read()
        return response.status, json.loads(payload) if payload else None
    finally:
        connection.close()


class SSEStream:
    """`GET /connection/sse` on one node, read line by line (blocking, with a deadline per read)."""

    def __init__(self, node):
        import socket

        self.socket = socket.create_connection(("127.0.0.1", node.port), timeout=30)
        self.socket.sendall(b"GET /connection/sse HTTP/1.1\r\nhost: 127.0.0.1\r\naccept: text/event-stream\r\n\r\n")
        self.file = self.socket.makefile("rb")
        assert b" 200 " in self.file.readline()
        while self.file.readline() != b"\r\n":
            pass

    def next_message(self):
        data = []
        while True:
            line = self.file.readline()
            assert line, "the stream ended"
            line = line.rstrip(b"\r\n").decode()
            if line.startswith("data:"):
                data.append(line[5:].lstrip(" "))
            elif line == "" and data:
                return json.loads("\n".join(data))

    def close(self):
        self.file.close()
        self.socket.close()


@needs_postgres
def test_sse_and_long_poll_sessions_work_when_every_request_lands_on_another_node(database, tmp_path):
    channel = "chat:nosticky"
    nodes = [Node(database, tmp_path / f"node{n}.log") for n in (1, 2, 3)]
    try:
        # Long-poll: opened on node 1; the subscribe goes to node 2, the polls rotate over 3, 1, 2, … (the owner too).
        status, opened = http(nodes[0], "POST", "/connection/poll")
        assert status == 200, opened
        session = opened["session"]
        status, answer = http(nodes[1], "POST", f"/connection/{session}/command", {"id": 1, "cmd": "subscribe", "channel": channel})
        assert (status, answer) == (202, {"accepted": 1})
        replies, publications, ack, turn = [], [], 0, 2

        def poll_until(done):
            nonlocal ack, turn
            while not done():
                assert turn < 40, (replies, publications)
                status, answer = http(nodes[turn % 3], "GET", f"/connection/poll/{session}?ack={ack}&timeout=5000")
                assert status == 200, answer
                for message in answer["messages"]:
                    if message.get("id") == 1:
                        replies.append(message)
                    elif message.get("push") == "publication":
                        publications.append((message["offset"], message["data"]["p"]))
                ack, turn = answer["seq"], turn + 1

        poll_until(lambda: replies)  # subscribed (commands run after their 202)
        for number in range(1, 7):
            nodes[number % 3].publish(channel, number)
        poll_until(lambda: len(publications) >= 6)
        assert len(replies) == 1 and replies[0]["result"]["offset"] == 0, replies
        assert publications == [(n, n) for n in range(1, 7)], "lost, duplicated or out of order"
        status, _ = http(nodes[1], "DELETE", f"/connection/poll/{session}")
        assert status == 204
        status, answer = http(nodes[2], "GET", f"/connection/poll/{session}?ack={ack}&timeout=0")
        assert (status, answer["error"]["code"]) == (404, 129), answer

        # SSE: the stream stays on node 2; its commands go to node 3 and node 1, their replies come on the stream.
        stream = SSEStream(nodes[1])
        try:
            announced = stream.next_message()
            assert announced["push"] == "session", announced
            address = announced["session"]
            status, _ = http(nodes[2], "POST", f"/connection/{address}/command", {"id": 7, "cmd": "subscribe", "channel": channel})
            assert status == 202
            reply = stream.next_message()
            assert reply["id"] == 7 and reply["result"]["offset"] == 6, reply
            status, _ = http(nodes[0], "POST", f"/connection/{address}/command", {"id": 8, "cmd": "ping"})
            assert status == 202
            assert stream.next_message()["id"] == 8
            nodes[2].publish(channel, 7)
            publication = stream.next_message()
            assert (publication["push"], publication["offset"], publication["data"]) == ("publication", 7, {"p": 7})

            # Bad input: an address naming no live node, a request already forwarded once (a loop).
            status, answer = http(nodes[0], "POST", "/connection/nonode0000000000-xyz/command", {"id": 9, "cmd": "ping"})
            assert (status, answer["error"]["code"]) == (404, 129), answer
            status, answer = http(nodes[0], "POST", f"/connection/{address}/command", {"id": 9, "cmd": "ping"},
                                  headers={"switchboard-forwarded-from": "elsewhere"})
            assert status == 508 and "does not hold its session" in answer["error"]["reason"], answer

            # The owner killed: its session is gone for every node, with the answer clients handle (open a new one).
            nodes[1].stop(signal.SIGKILL)
            status, answer = http(nodes[2], "POST", f"/connection/{address}/command", {"id": 10, "cmd": "ping"})
            assert (status, answer["error"]["code"]) == (404, 129), answer
            assert "its node is gone" in answer["error"]["reason"]
        finally:
            stream.close()
    finally:
        for node in nodes:
            node.stop(signal.SIGKILL)
