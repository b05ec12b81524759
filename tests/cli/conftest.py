"""Fixtures that run the real `switchboard` binary on a free loopback port."""
import os
import pathlib
import re
import subprocess
import tempfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BINARY = os.environ.get("SWITCHBOARD_BIN", str(ROOT / ".build" / "debug" / "switchboard"))
API_KEY = "cli-test-key-0123456789"


def inherited_environment(**settings):
    """This process's environment for a `switchboard` process, without the test harness's own SWITCHBOARD_TEST_*
    variables (the server refuses unknown SWITCHBOARD_* variables), plus `settings`."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("SWITCHBOARD_TEST_")}
    environment.update(settings)
    return environment


class Server:
    def __init__(self, process, port, scheme="http"):
        self.process = process
        self.port = port
        self.url = f"{scheme}://127.0.0.1:{port}"

    def run(self, *args, **kwargs):
        """Runs a `switchboard` client subcommand against this server."""
        env = inherited_environment(SWITCHBOARD_API_KEY=API_KEY)
        return subprocess.run([BINARY, *args, "--url", self.url], env=env, capture_output=True, text=True, timeout=30, **kwargs)

    def spawn(self, *args):
        env = inherited_environment(SWITCHBOARD_API_KEY=API_KEY)
        return subprocess.Popen([BINARY, *args, "--url", self.url], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def start_server(*extra, env=None):
    environment = inherited_environment(SWITCHBOARD_API_KEY=API_KEY)
    # The default engine (SQLite) in a data directory of this server's own, so servers can run side by side.
    environment["SWITCHBOARD_ENGINE_SQLITE_PATH"] = tempfile.mkdtemp(prefix="switchboard-data-")
    environment.update(env or {})
    process = subprocess.Popen(
        [BINARY, "serve", "--port", "0", *extra], env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    # The banner's first line names the bound port: wait for it instead of sleeping.
    for line in process.stdout:
        match = re.search(r"listening on (https?)://127\.0\.0\.1:(\d+)", line)
        if match:
            return Server(process, int(match.group(2)), match.group(1))
    raise RuntimeError("server exited before listening: " + process.stderr.read())


@pytest.fixture
def server():
    srv = start_server()
    yield srv
    if srv.process.poll() is None:
        srv.process.terminate()
        srv.process.wait(timeout=15)
