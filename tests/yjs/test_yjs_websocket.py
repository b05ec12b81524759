"""The `/yjs/{room}` endpoint with the unmodified y-websocket client (Debian's node-y-websocket `WebsocketProvider`,
node-ws as its WebSocket): several Node clients edit one room concurrently and end with identical documents, equal
to what the server holds.
"""
import json
import os
import pathlib
import subprocess

import pytest

from pycrdt_client import PycrdtClient

HERE = pathlib.Path(__file__).resolve().parent

NODE_ENV = {**os.environ, "NODE_PATH": "/usr/share/nodejs"}
CONFIG = """
namespaces:
  docs:
    yjs: true
"""


@pytest.fixture
def yjs_server(tmp_path, start_server):
    if not pathlib.Path("/usr/share/nodejs/y-websocket").is_dir() or not pathlib.Path("/usr/share/nodejs/ws").is_dir():
        pytest.fail("Debian's node-y-websocket and node-ws are missing: run scripts/install-test-deps.sh")
    config = tmp_path / "switchboard.yaml"
    config.write_text(CONFIG)
    server = start_server("--config", str(config))
    yield server
    server.process.terminate()
    server.process.wait(timeout=15)


def run_clients(server, room, clients, rounds, offline=None):
    args = ["node", str(HERE / "ywebsocket_clients.mjs"), f"ws://127.0.0.1:{server.port}/yjs", room, str(clients), str(rounds)]
    if offline is not None:
        args.append(str(offline))
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, env=NODE_ENV)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_three_y_websocket_clients_editing_concurrently_converge(yjs_server):
    report = run_clients(yjs_server, "docs:notes", clients=3, rounds=40)
    assert report["converged"], report
    assert len(set(report["texts"])) == 1
    for i in range(3):
        for r in (0, 39):
            assert f"c{i}r{r}" in report["texts"][0]
    # Awareness is relayed: every client saw the others' names.
    assert all(names == ["client 0", "client 1", "client 2"] for names in report["awarenessSeen"]), report["awarenessSeen"]


def test_a_client_editing_offline_converges_after_reconnecting(yjs_server):
    report = run_clients(yjs_server, "docs:offline", clients=3, rounds=40, offline=1)
    assert report["converged"], report
    assert "c1r39" in report["texts"][0]


def test_a_late_client_gets_the_whole_document_from_the_server(yjs_server):
    first = run_clients(yjs_server, "docs:late", clients=2, rounds=10)
    # The first clients are gone; a new one loads the room from the server alone.
    second = run_clients(yjs_server, "docs:late", clients=1, rounds=1)
    assert second["texts"][0].endswith(first["texts"][0]) or first["texts"][0] in second["texts"][0]
    assert "c0r9" in second["texts"][0] and "c1r9" in second["texts"][0]


def test_documents_survive_a_restart_of_the_hub_on_the_sqlite_engine(tmp_path, start_server):
    config = tmp_path / "switchboard.yaml"
    # A small compaction threshold, so the stored log has been compacted and appended to before the restart.
    config.write_text(CONFIG + "    yjs_compact_after_updates: 7\n")
    data = tmp_path / "data"
    environment = {"SWITCHBOARD_ENGINE_SQLITE_PATH": str(data)}
    server = start_server("--config", str(config), env=environment)
    try:
        before = run_clients(server, "docs:kept", clients=2, rounds=20)
        assert before["converged"], before
    finally:
        server.process.terminate()
        server.process.wait(timeout=15)
    restarted = start_server("--config", str(config), env=environment)
    try:
        # A client that never saw the room, after the restart: the server alone gives it the whole document.
        after = run_clients(restarted, "docs:kept", clients=1, rounds=1)
        for i in range(2):
            for r in range(20):
                assert f"c{i}r{r} " in after["texts"][0]
    finally:
        restarted.process.terminate()
        restarted.process.wait(timeout=15)


def test_acknowledged_edits_survive_kill_9_of_the_hub(tmp_path, start_server):
    """Node y-websocket clients and a pycrdt client edit a room; once the server answered the pycrdt client's sync
    step 1 (its acknowledgement), the hub is SIGKILLed mid-session. Restarted on the same data directory, it serves
    the whole document: equal to the pycrdt client's own (independent) document, words of every client included."""
    config = tmp_path / "switchboard.yaml"
    config.write_text(CONFIG + "    yjs_compact_after_updates: 50\n")
    environment = {"SWITCHBOARD_ENGINE_SQLITE_PATH": str(tmp_path / "data")}
    server = start_server("--config", str(config), env=environment)
    try:
        node = run_clients(server, "docs:crash", clients=2, rounds=20)
        assert node["converged"], node
        writer = PycrdtClient(f"ws://127.0.0.1:{server.port}/yjs/docs:crash")
        assert str(writer.text) == node["texts"][0]
        # Hundreds of updates in a burst, so the engine's writes trail the relay, with deletions among them.
        for i in range(400):
            middle = str(writer.text).find(" ", len(writer.text) // 2) + 1
            writer.text.insert(middle, f"p{i} ")
            if i % 10 == 9:
                writer.text.insert(0, "zz")
                del writer.text[0:2]
        writer.sync()
        server.process.kill()
        server.process.wait(timeout=15)
        writer.close()
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait(timeout=15)
    restarted = start_server("--config", str(config), env=environment)
    try:
        reader = PycrdtClient(f"ws://127.0.0.1:{restarted.port}/yjs/docs:crash")
        assert str(reader.text) == str(writer.text)
        assert reader.state_vector() == writer.state_vector()
        reader.close()
        # Yjs itself, through the unmodified client, gets the same document back.
        after = run_clients(restarted, "docs:crash", clients=1, rounds=0)
        assert after["texts"][0] == str(writer.text)
    finally:
        restarted.process.terminate()
        restarted.process.wait(timeout=15)
