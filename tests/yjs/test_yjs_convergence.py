"""Five editors on one room for 30 s: three unmodified y-websocket clients (Node, Debian's Yjs) and two pycrdt clients
(yrs), random inserts and deletes, one Node client cut off for 5 s mid-way and editing offline. All five end with the
same text and state vector, equal to a reference document that applied every client's updates (pycrdt)."""
import json
import pathlib
import random
import subprocess
import time

from pycrdt import Doc, Text

from pycrdt_client import PycrdtClient, state_vector
from test_yjs_websocket import CONFIG, HERE, NODE_ENV

SECONDS = 30


def test_five_clients_of_two_implementations_editing_for_30_s_converge(tmp_path, start_server):
    config = tmp_path / "switchboard.yaml"
    config.write_text(CONFIG)
    server = start_server("--config", str(config))
    node = subprocess.Popen(
        ["node", str(HERE / "ywebsocket_session.mjs"), f"ws://127.0.0.1:{server.port}/yjs", "docs:five", "3", str(SECONDS),
         "1", "10", "5", "1"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=NODE_ENV,
    )
    try:
        assert json.loads(node.stdout.readline()) == {"ready": True}, node.stderr.read()
        editors = [PycrdtClient(f"ws://127.0.0.1:{server.port}/yjs/docs:five") for _ in range(2)]
        generator = random.Random(2)
        started = time.monotonic()
        while time.monotonic() - started < SECONDS:
            for editor in editors:
                editor.drain()
                length = len(editor.text)
                if length > 20 and generator.random() < 0.3:
                    at = generator.randrange(length - 3)
                    del editor.text[at:at + generator.randint(1, 3)]
                else:
                    word = "".join(generator.choice("ABCDEFGHIJ") for _ in range(generator.randint(1, 5)))
                    editor.text.insert(generator.randint(0, length), word)
            time.sleep(0.02 + generator.random() * 0.03)  # pacing the edits, not synchronising
        line = node.stdout.readline()
        assert line, node.stderr.read()
        report = json.loads(line)
        node_states = [bytes.fromhex(state) for state in report["states"]]
        # About one edit every 35 ms: the cut-off client edited offline for most of its 5 s.
        assert report["offlineEdits"] > 50, report["offlineEdits"]

        # The reference: a fresh document that applied every client's whole state.
        reference = Doc()
        reference_text = reference.get("text", type=Text)
        for update in node_states + [editor.doc.get_update() for editor in editors]:
            reference.apply_update(update)
        expected = {"text": str(reference_text), "stateVector": {str(k): v for k, v in state_vector(reference).items()}}
        node.stdin.write(json.dumps(expected) + "\n")
        node.stdin.flush()

        deadline = time.monotonic() + 30
        while any(str(e.text) != expected["text"] or e.state_vector() != state_vector(reference) for e in editors):
            assert time.monotonic() < deadline, [str(e.text) for e in editors]
            for editor in editors:
                editor.drain(wait=0.05)
        report = json.loads(node.stdout.readline())
        assert report["converged"], report
        assert report["texts"] == [expected["text"]] * 3
        # Every client edited: the reference holds all five clients' clocks (and the server's log is the same document).
        assert len(state_vector(reference)) == 5
        fresh = PycrdtClient(f"ws://127.0.0.1:{server.port}/yjs/docs:five")
        assert str(fresh.text) == expected["text"]
        for client in editors + [fresh]:
            client.close()
    finally:
        if node.poll() is None:
            node.kill()
        node.wait(timeout=15)
        server.process.terminate()
        server.process.wait(timeout=15)

