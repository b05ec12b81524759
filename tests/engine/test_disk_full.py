"""A disk that fills up while the real process runs (a small tmpfs of the test's own, root only): publishes are
answered with the retryable 503 engine_unavailable, never a silent 200; /readyz says so; nothing answered 200 before
is lost; once space is freed /readyz recovers by itself, publishing works again and the offsets continue where they
stopped; all of it survives a kill -9."""
import errno
import json
import os
import signal
import subprocess

import pytest

from engine_support import ServerProcess, needs_mount, wait_until_sync


@pytest.fixture
def small_disk(tmp_path):
    mount_point = tmp_path / "small-disk"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)], check=True)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


def fill(path):
    """Writes zeros to `path` until the filesystem has no room left."""
    chunk = bytes(64 * 1024)
    with open(path, "wb", buffering=0) as filler:
        while True:
            try:
                filler.write(chunk)
            except OSError as error:
                assert error.errno == errno.ENOSPC
                break
        # The last partial chunk: fill the remaining bytes one page at a time.
        while True:
            try:
                filler.write(bytes(4096))
            except OSError as error:
                assert error.errno == errno.ENOSPC
                return


@needs_mount
def test_a_full_disk_answers_503_engine_unavailable_and_serves_again_once_space_is_freed(small_disk, tmp_path):
    data_directory = small_disk / "data"
    server = ServerProcess(data_directory, "--set", "channel_defaults.history_size=100000", log_path=tmp_path / "server.log")
    try:
        payload = "x" * 4000
        accepted = []
        status, _, body = server.request("POST", "/api/publish", {"channel": "room", "data": {"n": 0, "pad": payload}})
        assert status == 200, body
        accepted.append(json.loads(body)["offset"])
        epoch = json.loads(body)["epoch"]
        fill(small_disk / "filler")

        refusal = None
        for n in range(1, 2000):
            status, headers, body = server.request("POST", "/api/publish", {"channel": "room", "data": {"n": n, "pad": payload}})
            if status != 200:
                refusal = (status, headers, json.loads(body))
                break
            accepted.append(json.loads(body)["offset"])
        assert refusal is not None, "a full disk must refuse publishing within 2000 publications of 4 kB"
        status, headers, body = refusal
        assert status == 503
        assert headers.get("retry-after") == "1"
        assert body == {"error": {"code": 136, "name": "engine_unavailable", "reason": "engine unavailable during publish; retry"}}
        assert server.request("GET", "/readyz", api_key=False)[:1] == (503,)
        assert server.request("GET", "/readyz", api_key=False)[2] == b'{"status":"engine_unavailable"}'
        # Still full: every further publish is refused too, and no offset is used by a refused one.
        assert server.request("POST", "/api/publish", {"channel": "room", "data": {"refused": True}})[0] == 503
        assert accepted == list(range(1, len(accepted) + 1))

        # Nothing answered 200 is lost, even while the disk is full.
        status, _, body = server.request("GET", f"/api/history?channel=room&since={epoch}:0&limit=1000")
        assert status == 200, body
        assert [p["offset"] for p in json.loads(body)["publications"]] == accepted

        os.unlink(small_disk / "filler")
        # The engine's own write probe (every second while unavailable) finds the space: /readyz recovers before
        # anything is published.
        wait_until_sync(lambda: server.request("GET", "/readyz", api_key=False)[0] == 200, 30, "/readyz 200 after freeing space")
        status, _, body = server.request("POST", "/api/publish", {"channel": "room", "data": {"after": True}})
        assert status == 200, body
        assert json.loads(body)["offset"] == len(accepted) + 1 and json.loads(body)["epoch"] == epoch
        accepted.append(len(accepted) + 1)
    finally:
        status = server.stop(signal.SIGKILL)
    assert status == -signal.SIGKILL

    # And it all survives a kill -9 and a restart on the same directory.
    restarted = ServerProcess(data_directory, "--set", "channel_defaults.history_size=100000", log_path=tmp_path / "server.log")
    try:
        status, _, body = restarted.request("GET", f"/api/history?channel=room&since={epoch}:0&limit=1000")
        assert status == 200, body
        assert [p["offset"] for p in json.loads(body)["publications"]] == accepted
    finally:
        assert restarted.stop() == 0
