"""Helpers of the cluster tests (tests/engine/test_postgres_cluster.py, test_cluster_haproxy.py): a database of the
test's own on the test PostgreSQL, and `switchboard serve --engine postgres` nodes on it.

PostgreSQL comes from SWITCHBOARD_TEST_POSTGRES_URL (scripts/test.sh starts one with scripts/postgres-test-server.sh).
Without it these tests fail, unless SWITCHBOARD_TEST_ALLOW_NO_POSTGRES=1 (quick local runs) leaves them out.
"""
import json
import os
import subprocess
import urllib.parse
import uuid

import pytest

from engine_support import ServerProcess, wait_until_sync

POSTGRES_URL = os.environ.get("SWITCHBOARD_TEST_POSTGRES_URL", "")
PSQL = "/usr/lib/postgresql/15/bin/psql"

needs_postgres = pytest.mark.skipif(
    not POSTGRES_URL and os.environ.get("SWITCHBOARD_TEST_ALLOW_NO_POSTGRES") == "1",
    reason="SWITCHBOARD_TEST_ALLOW_NO_POSTGRES=1 and no SWITCHBOARD_TEST_POSTGRES_URL",
)


def database_url(name):
    parts = urllib.parse.urlsplit(POSTGRES_URL)
    return urllib.parse.urlunsplit(parts._replace(path="/" + name))


@pytest.fixture
def database():
    assert POSTGRES_URL, "SWITCHBOARD_TEST_POSTGRES_URL is not set: run scripts/test.sh or scripts/postgres-test-server.sh start"
    name = "sbtest_" + uuid.uuid4().hex
    subprocess.run([PSQL, POSTGRES_URL, "-qc", f"CREATE DATABASE {name}"], check=True)
    yield database_url(name)
    subprocess.run([PSQL, POSTGRES_URL, "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"], check=False)


class Node(ServerProcess):
    """One `switchboard serve --engine postgres` process."""

    def __init__(self, url, log_path, *extra, port=0):
        super().__init__(
            log_path.with_suffix(".data"), *extra, log_path=log_path, port=port,
            environment={"SWITCHBOARD_ENGINE_TYPE": "postgres", "SWITCHBOARD_ENGINE_POSTGRES_URL": url},
        )
        wait_until_sync(lambda: self.status("/readyz") == 200, 60, f"node on {self.port} ready")

    def status(self, target):
        try:
            return self.request("GET", target, api_key=False)[0]
        except OSError:
            return None

    def publish(self, channel, number):
        status, _, body = self.request("POST", "/api/publish", {"channel": channel, "data": {"p": number}})
        assert status == 200, (status, body)
        return json.loads(body)
