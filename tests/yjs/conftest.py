"""The Yjs tests start servers the way the CLI tests do (tests/cli/conftest.py, loaded under its own name: every
test directory's conftest is a module called `conftest`)."""
import importlib.util
import pathlib

_spec = importlib.util.spec_from_file_location("cli_conftest", pathlib.Path(__file__).resolve().parents[1] / "cli" / "conftest.py")
cli_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cli_conftest)
