"""`switchboard bench` as a user runs it: a few hundred subscribers for a few seconds, nothing lost."""
import json
import subprocess

from conftest import API_KEY, BINARY


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
