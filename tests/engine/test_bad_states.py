"""Bad states at start, over the real process: each is refused with exit status 2 and one exact line on stderr naming
`engine.sqlite.path`, and nothing on disk is changed (docs/configuration.md, SQLiteStore.swift)."""
import os
import sqlite3
import subprocess

import pytest

from engine_support import ServerProcess, needs_mount, run_serve_until_exit

PREFIX = "switchboard: configuration error: engine.sqlite.path: "


def refusal(data_directory):
    """Starts a server that must refuse; returns its one stderr line without the common prefix."""
    finished = run_serve_until_exit(data_directory)
    assert finished.returncode == 2, (finished.returncode, finished.stderr)
    assert finished.stdout == ""
    assert finished.stderr.startswith(PREFIX) and finished.stderr.count("\n") == 1, finished.stderr
    return finished.stderr[len(PREFIX):-1]


def test_a_data_directory_under_a_regular_file_cannot_be_created(tmp_path):
    regular_file = tmp_path / "a-file"
    regular_file.write_text("x")
    assert refusal(regular_file / "data") == f"cannot create the data directory {regular_file}/data: Not a directory"
    assert regular_file.read_text() == "x"


@pytest.fixture
def read_only_mount(tmp_path):
    """A tmpfs holding an empty `data` directory, remounted read-only."""
    mount_point = tmp_path / "read-only"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)], check=True)
    try:
        (mount_point / "data").mkdir()
        subprocess.run(["mount", "-o", "remount,ro", str(mount_point)], check=True)
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


@needs_mount
def test_a_data_directory_on_a_read_only_mount_is_not_writable(read_only_mount):
    directory = read_only_mount / "data"
    assert refusal(directory) == f"the data directory {directory} is not writable"
    assert os.listdir(directory) == []


@needs_mount
def test_a_data_directory_to_create_on_a_read_only_mount_cannot_be_created(read_only_mount):
    directory = read_only_mount / "new"
    assert refusal(directory) == f"cannot create the data directory {directory}: Read-only file system"


def test_a_file_that_is_not_a_database_is_refused_and_left_unchanged(data_directory):
    data_directory.mkdir()
    database = data_directory / "switchboard.sqlite"
    garbage = bytes((index * 31 + 7) % 256 for index in range(8192))
    database.write_bytes(garbage)
    assert refusal(data_directory) == (
        f"{database} cannot be opened as a Switchboard database (file is not a database); it was left unchanged")
    assert database.read_bytes() == garbage
    # Nothing was created beside it but the directory's lock file: no WAL, no shared-memory file.
    assert sorted(os.listdir(data_directory)) == ["switchboard.lock", "switchboard.sqlite"]


def test_a_database_from_a_newer_schema_is_refused_and_left_unchanged(data_directory):
    server = ServerProcess(data_directory)
    status, _, _ = server.request("POST", "/api/publish", {"channel": "room", "data": {"kept": True}})
    assert status == 200
    assert server.stop() == 0
    database = data_directory / "switchboard.sqlite"
    # What a newer server leaves behind: a migration this one does not know, all in the main file.
    connection = sqlite3.connect(database)
    connection.execute("INSERT INTO grdb_migrations (identifier) VALUES ('v99-from-the-future')")
    connection.commit()
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    before = database.read_bytes()
    assert refusal(data_directory) == (
        f"{database} has schema migrations this server does not know (v1, v2-yjs-rooms, v99-from-the-future): it was written by a "
        "newer Switchboard; run that version or use another data directory (the file was left unchanged)")
    assert database.read_bytes() == before


def test_a_data_directory_in_use_by_a_running_server_is_refused(data_directory):
    first = ServerProcess(data_directory)
    try:
        status, _, body = first.request("POST", "/api/publish", {"channel": "room", "data": 1})
        assert status == 200, body
        assert refusal(data_directory) == (
            f"the data directory {data_directory} is in use by another Switchboard process "
            f"(lock {data_directory}/switchboard.lock)")
        # The running server carries on, its history intact.
        status, _, body = first.request("POST", "/api/publish", {"channel": "room", "data": 2})
        assert status == 200 and b'"offset":2' in body, body
        status, _, _ = first.request("GET", "/readyz", api_key=False)
        assert status == 200
    finally:
        assert first.stop() == 0
