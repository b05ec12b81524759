"""End-to-end tests of the durable engine over the real `switchboard` process (SWITCHBOARD_BIN, else
.build/debug/switchboard): restarts under load (kill -9 and SIGTERM), bad states at start, a full disk while running.
Helpers live in engine_support.py."""
import os

import pytest

from engine_support import BINARY


def pytest_collection_modifyitems(config, items):
    if not os.access(BINARY, os.X_OK):
        for item in items:
            if "tests/engine/" in str(item.fspath).replace(os.sep, "/"):
                item.add_marker(pytest.mark.skip(reason=f"no server binary at {BINARY} (swift build, or set SWITCHBOARD_BIN)"))


@pytest.fixture
def data_directory(tmp_path):
    """A data directory path of the test's own; the server creates it on first start."""
    return tmp_path / "switchboard-data"
