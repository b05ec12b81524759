"""`switchboard bench` as a user runs it: a few hundred subscribers for a few seconds, nothing lost."""
import json
import subprocess

from conftest import API_KEY, BINARY, start_server


def test_short_mixed_bench_run_delivers_every_publication_exactly_once(server):
    done = subprocess.run(
        [
            BINARY, "bench", "--url", server.url, "--api-key", API_KEY, "--ws", "150", "--sse", "50", "--channels", "2",
            "--rate", "50", "--duration", "2", "--payload-bytes", "128", "--server-pid", str(server.process.pid), "--json",
        ],
        capture_output=True, text=True, timeout=120,
    )
    report = json.loads(done.stdout)
    assert report["established"] == 200 and report["failed"] == 0
    assert report["expectedDeliveries"] == 200 * 50
    assert report["delivered"] == report["expectedDeliveries"]
    assert report["lost"] == 0 and report["duplicated"] == 0 and report["outOfOrder"] == 0
    assert done.returncode == 0


def test_worker_processes_split_the_subscribers_and_their_counts_add_up(server):
    """`--workers 2` re-executes the binary twice; the coordinator publishes and merges both workers' counts."""
    done = subprocess.run(
        [
            BINARY, "bench", "--url", server.url, "--api-key", API_KEY, "--ws", "100", "--poll", "50", "--channels", "2",
            "--rate", "50", "--duration", "2", "--drain", "5", "--workers", "2", "--json",
        ],
        capture_output=True, text=True, timeout=120,
    )
    report = json.loads(done.stdout)
    assert report["workers"] == 2
    assert report["established"] == 150 and report["failed"] == 0
    assert report["expectedDeliveries"] == 150 * 50
    assert report["delivered"] == report["expectedDeliveries"]
    assert report["lost"] == 0 and report["duplicated"] == 0 and report["outOfOrder"] == 0
    assert report["latencyMillis"]["samples"] == report["delivered"]
    assert done.returncode == 0


def test_deflate_reaches_worker_processes_and_their_subscribers_inflate_every_publication(server):
    """`--deflate` travels in the worker options: every worker's subscribers negotiate it and inflate what arrives."""
    done = subprocess.run(
        [
            BINARY, "bench", "--url", server.url, "--api-key", API_KEY, "--ws", "60", "--deflate", "--payload-bytes", "512",
            "--rate", "50", "--duration", "2", "--drain", "5", "--workers", "2", "--json",
        ],
        capture_output=True, text=True, timeout=120,
    )
    report = json.loads(done.stdout)
    assert report["deflate"] is True and report["workers"] == 2
    assert report["established"] == 60 and report["failed"] == 0
    assert report["delivered"] == report["expectedDeliveries"] == 60 * 100
    assert report["lost"] == 0 and report["duplicated"] == 0 and report["outOfOrder"] == 0
    assert report["webSocketFrames"]["compressed"] == report["delivered"]
    assert done.returncode == 0


def test_websocket_publisher_delivers_every_publication_exactly_once():
    """`--publish-over websocket`: one client connection publishes 300/s, three times the server's default per-connection
    command rate and per-user publish rate (100/s, burst 200: about a third would be refused), so the server is started
    with both limits lifted, as the docs say."""
    srv = start_server(env={"SWITCHBOARD_LIMITS_COMMANDS_PER_SECOND": "0", "SWITCHBOARD_LIMITS_PUBLISHES_PER_SECOND_PER_USER": "0"})
    try:
        done = subprocess.run(
            [
                BINARY, "bench", "--url", srv.url, "--publish-over", "websocket", "--ws", "60", "--sse", "20",
                "--channels", "2", "--rate", "300", "--duration", "2", "--drain", "5", "--json",
            ],
            capture_output=True, text=True, timeout=120,
        )
    finally:
        srv.process.terminate()
        srv.process.wait(timeout=15)
    report = json.loads(done.stdout)
    assert report["publisher"] == "websocket"
    assert report["established"] == 80 and report["failed"] == 0
    assert report["publicationsSent"] == report["publicationsAccepted"] == 600
    assert report["publicationsRefused"] == 0 and report["publicationsUnanswered"] == 0
    assert report["expectedDeliveries"] == 80 * 300
    assert report["delivered"] == report["expectedDeliveries"]
    assert report["lost"] == 0 and report["duplicated"] == 0 and report["outOfOrder"] == 0
    assert "rate limiting" not in done.stderr
    assert done.returncode == 0


def test_websocket_publisher_is_refused_for_nchan_with_the_reason():
    done = subprocess.run(
        [BINARY, "bench", "--url", "http://127.0.0.1:9", "--target", "nchan", "--publish-over", "websocket", "--ws", "1"],
        capture_output=True, text=True, timeout=30,
    )
    assert done.returncode != 0
    assert "--publish-over websocket needs --target switchboard" in done.stderr
    assert done.stdout == ""
