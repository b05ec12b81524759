"""A real Prometheus for the tests (Debian's `prometheus` package): on loopback, a free port, a temporary configuration
and data directory, a 100 ms scrape interval; queries go through its HTTP API and waits poll it (no sleeps as
synchronisation). Shared by test_metrics_prometheus.py and test_grafana_dashboard.py."""
import json
import math
import pathlib
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

PROMTOOL = shutil.which("promtool")
PROMETHEUS = shutil.which("prometheus")


def get(url, headers=None):
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode()


def samples(text):
    """The exposition's samples as {series: value}, the series written as in the text (name plus labels)."""
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            series, value = line.rsplit(" ", 1)
            values[series] = float(value)
    return values


def quantile_from_buckets(q, buckets):
    """histogram_quantile as Prometheus computes it: linear interpolation inside the bucket holding rank q·count."""
    buckets = sorted(buckets, key=lambda bound_count: bound_count[0])
    total = buckets[-1][1]
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = bound, count
    return math.nan


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Prometheus:
    """A Prometheus on loopback that scrapes one target every 100 ms, with its own temporary configuration and data."""

    def __init__(self, target_port):
        self.directory = pathlib.Path(tempfile.mkdtemp(prefix="switchboard-prometheus-"))
        (self.directory / "prometheus.yml").write_text(
            "global:\n  scrape_interval: 100ms\n  scrape_timeout: 100ms\n  evaluation_interval: 100ms\n"
            "scrape_configs:\n  - job_name: switchboard\n    static_configs:\n"
            f"      - targets: ['127.0.0.1:{target_port}']\n"
        )
        self.port = free_port()
        self.log = open(self.directory / "prometheus.log", "w")
        self.process = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={self.directory / 'prometheus.yml'}",
                f"--storage.tsdb.path={self.directory / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.url = f"http://127.0.0.1:{self.port}"

    def query(self, expression):
        """The instant vector's values, or None while Prometheus is not up or not ready yet. A query Prometheus refuses (it does not
        parse, say) fails the test with Prometheus's reason."""
        try:
            answer = json.loads(get(self.url + "/api/v1/query?" + urllib.parse.urlencode({"query": expression})))
        except urllib.error.HTTPError as refusal:
            if refusal.code == 503:
                return None  # listening but not ready yet (its storage is still starting): not an answer
            raise AssertionError(f"Prometheus refused {expression}: {refusal.read().decode()}") from None
        except OSError:
            return None
        assert answer["status"] == "success", answer
        return [float(sample["value"][1]) for sample in answer["data"]["result"]]

    def wait_for(self, expression, condition, timeout=60):
        """Polls the query until `condition(values)` holds (Prometheus's own state, not a guess at timing)."""
        deadline = time.monotonic() + timeout
        values = None
        while time.monotonic() < deadline:
            assert self.process.poll() is None, (self.directory / "prometheus.log").read_text()
            values = self.query(expression)
            if values is not None and condition(values):
                return values
            time.sleep(0.1)
        raise AssertionError(f"{expression} never satisfied the condition; last answer {values}")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()
        shutil.rmtree(self.directory, ignore_errors=True)
