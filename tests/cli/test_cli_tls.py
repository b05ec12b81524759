"""`switchboard subscribe` and `publish` over TLS, trusting a development certificate with --ca."""
import json
import subprocess

from conftest import BINARY, start_server
from test_cli_tour import wait_for_subscribed


def make_certificate(directory):
    subprocess.run([BINARY, "cert", "--out", str(directory)], check=True, capture_output=True, text=True, timeout=30)
    return directory / "cert.pem", directory / "key.pem"


def test_subscribe_and_publish_over_https_with_the_development_certificate(tmp_path):
    certificate, key = make_certificate(tmp_path / "dev")
    stranger, _ = make_certificate(tmp_path / "other")
    server = start_server("--tls-cert", str(certificate), "--tls-key", str(key))
    try:
        assert server.url.startswith("https://")
        subscriber = server.spawn("subscribe", "chat:tls", "--count", "1", "--ca", str(certificate))
        wait_for_subscribed(subscriber)
        published = server.run("publish", "chat:tls", '{"over":"tls"}', "--ca", str(certificate))
        assert published.returncode == 0, published.stderr
        assert json.loads(published.stdout)["offset"] == 1
        out, _ = subscriber.communicate(timeout=20)
        assert subscriber.returncode == 0
        assert json.loads(out)["data"] == {"over": "tls"}

        refused = server.run("publish", "chat:tls", "1", "--ca", str(stranger))
        assert refused.returncode == 1
        assert "TLS failed" in refused.stderr, refused.stderr
        stopped = server.run("subscribe", "chat:tls", "--ca", str(stranger))
        assert stopped.returncode == 1
        assert "TLS failed" in stopped.stderr, stopped.stderr
        missing = server.run("publish", "chat:tls", "1", "--ca", str(tmp_path / "missing.pem"))
        assert missing.returncode != 0 and "--ca: cannot read" in missing.stderr
    finally:
        server.process.terminate()
        server.process.wait(timeout=15)
