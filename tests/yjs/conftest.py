"""The Yjs tests start servers the way the CLI tests do (tests/cli/conftest.py, loaded under a name of its own: every
test directory's conftest is a module called `conftest`, so importing it by name would find another directory's)."""
import importlib.util
import pathlib

import pytest

_spec = importlib.util.spec_from_file_location("cli_conftest", pathlib.Path(__file__).resolve().parents[1] / "cli" / "conftest.py")
_cli_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_cli_conftest)


@pytest.fixture
def start_server():
    """`start_server(*flags, env=…)` from tests/cli/conftest.py: a `switchboard serve` on a free port."""
    return _cli_conftest.start_server
