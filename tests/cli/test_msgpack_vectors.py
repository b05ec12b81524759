"""The committed MessagePack vectors are exactly what Python's msgpack (the independent oracle) produces today.

The Swift and TypeScript codec tests compare against tests/msgpack_vectors/vectors.json; regenerating it here proves the
file was not edited by hand to agree with them, and that the oracle has not changed its mind.
"""
import pathlib
import subprocess
import sys

import pytest

VECTORS = pathlib.Path(__file__).resolve().parents[1] / "msgpack_vectors"


def test_committed_vectors_match_a_fresh_generation(tmp_path):
    pytest.importorskip("msgpack", reason="Python's msgpack package (the oracle) is not installed: run scripts/install-test-deps.sh")
    fresh = tmp_path / "vectors.json"
    subprocess.run([sys.executable, str(VECTORS / "generate.py"), str(fresh)], check=True, timeout=120)
    assert fresh.read_bytes() == (VECTORS / "vectors.json").read_bytes(), "vectors.json is stale: run tests/msgpack_vectors/generate.py"
