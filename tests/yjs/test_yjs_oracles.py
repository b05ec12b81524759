"""The Swift Yjs update utilities (`switchboard yjs merge|diff`) checked by applying their output in Yjs and in pycrdt.

For every recorded session (tests/yjs/*_vectors.json, from both libraries): the Swift merge of all updates, the Swift
merges of shuffled subsets, and every Swift diff applied on top of the state it was computed for must give each
library a byte-identical document state to the one applying the original updates gives: the same content (as JSON
text) and the same canonical state (Yjs: `encodeSnapshot`, the delete set and state vector; pycrdt: the state
vector's clocks). Not `encodeStateAsUpdate`'s bytes: they depend on how a document's items happen to be split, so
two equal documents (even Yjs's own merge against the originals) can differ there. The Swift unit tests (YjsOracleVectorTests) check bytes against Yjs's own outputs; this checks meaning
against two implementations, including pycrdt's updates, whose merges yrs writes differently.
"""
import json
import os
import pathlib
import shutil
import subprocess

import pytest
from lib0 import decode_state_vector

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BINARY = os.environ.get("SWITCHBOARD_BIN", str(ROOT / ".build" / "debug" / "switchboard"))
NODE_ENV = {**os.environ, "NODE_PATH": "/usr/share/nodejs"}
SESSIONS = [s for f in ("yjs_vectors.json", "pycrdt_vectors.json") for s in json.loads((HERE / f).read_text())]


def swift(*args):
    result = subprocess.run([BINARY, "yjs", *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def yjs_documents(jobs):
    """Each list of hex updates applied in a fresh Yjs document: its encodeStateAsUpdate, snapshot and content."""
    result = subprocess.run(
        ["node", str(HERE / "apply_updates.mjs")], input=json.dumps(jobs), capture_output=True, text=True, timeout=120, env=NODE_ENV
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def canonical_json(value):
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def state_vector_clocks(hex_state_vector):
    """A lib0 state vector in hex as {client: clock} (yrs lists clients in its own order)."""
    return decode_state_vector(bytes.fromhex(hex_state_vector))


def pycrdt_states(jobs):
    """Each list of hex updates applied in a fresh pycrdt document: its content and state vector, as one text."""
    pycrdt = pytest.importorskip("pycrdt", reason="pycrdt (the second oracle) is not installed: run scripts/install-test-deps.sh")
    sys_path_generator = HERE / "generate_vectors.py"
    namespace = {}
    exec(compile(sys_path_generator.read_text(), str(sys_path_generator), "exec"), namespace)
    states = []
    for updates in jobs:
        doc = namespace["new_doc"](1)
        for update in updates:
            doc.apply_update(bytes.fromhex(update))
        clocks = state_vector_clocks(doc.get_state().hex())
        states.append(canonical_json({"json": namespace["document_json"](doc), "state_vector": sorted(clocks.items())}))
    return states


@pytest.fixture(scope="module", autouse=True)
def oracles_present():
    if not (pathlib.Path("/usr/share/nodejs/yjs").is_dir() and shutil.which("node")):
        pytest.fail("Debian's node-yjs is missing: run scripts/install-test-deps.sh")


@pytest.mark.parametrize("session", SESSIONS, ids=lambda s: f"{s['source']}: {s['name']}")
def test_swift_merges_and_diffs_give_both_libraries_the_same_document(session):
    updates = session["updates"]
    merged = swift("merge", *updates)
    # name -> (updates with the Swift result, what it must equal in Yjs, what it must equal in pycrdt)
    checks = {"merge of all": ([merged], updates, updates)}
    for n, diff in enumerate(session["diffs"]):
        checks[f"base {n} + diff"] = ([diff["base"], swift("diff", merged, diff["state_vector"])], updates, updates)
    for partial in session["partial_merges"]:
        subset = [updates[i] for i in partial["indices"]]
        # A subset leaves structs waiting for ones it lacks. yrs integrates one merged update's waiting structs
        # differently from the same structs arriving one update at a time (its own merge does what the Swift merge
        # does), so pycrdt compares with its oracle's merge; Yjs compares with the originals.
        checks[f"merge of subset {partial['indices']}"] = ([swift("merge", *subset)], subset, [partial["merged"]])
    if session["source"] == "yjs":
        # Yjs replaces both halves of a surrogate pair it splits with U+FFFD (when it integrates an insertion made
        # inside the pair, and when its merge or diff slices text there); yrs keeps the pair, and even Yjs's own merge
        # applied in pycrdt differs from Yjs's document there. The Swift bytes equal Yjs's (YjsOracleVectorTests),
        # so for these sessions pycrdt compares with Yjs's own merge and diff results.
        checks["merge of all"] = (checks["merge of all"][0], updates, [session["merged"]])
        for n, diff in enumerate(session["diffs"]):
            checks[f"base {n} + diff"] = (checks[f"base {n} + diff"][0], updates, [diff["base"], diff["diff"]])
    names = list(checks)
    yjs = [canonical_json({"json": d["json"], "snapshot": d["snapshot"]}) for d in yjs_documents(
        [checks[n][0] for n in names] + [checks[n][1] for n in names])]
    pycrdt = pycrdt_states([checks[n][0] for n in names] + [checks[n][2] for n in names])
    for library, states in (("yjs", yjs), ("pycrdt", pycrdt)):
        for index, name in enumerate(names):
            assert states[index] == states[len(names) + index], f"{library}: the Swift {name} gives another document"


def test_swift_state_vectors_match_yjs():
    for session in SESSIONS[:3]:
        if session["source"] == "yjs":
            for update, expected in zip(session["updates"][:10], session["state_vectors"]):
                assert swift("state-vector", update) == expected


def test_bad_input_is_refused_with_the_reason():
    result = subprocess.run([BINARY, "yjs", "merge", "01ff", "0000"], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "count larger than the bytes left could hold" in result.stderr


def test_committed_yjs_vectors_match_a_fresh_generation(tmp_path):
    fresh = tmp_path / "yjs_vectors.json"
    subprocess.run(["node", str(HERE / "generate_vectors.mjs"), str(fresh)], check=True, timeout=120, env=NODE_ENV)
    assert fresh.read_bytes() == (HERE / "yjs_vectors.json").read_bytes(), "yjs_vectors.json is stale: run tests/yjs/generate_vectors.mjs"
