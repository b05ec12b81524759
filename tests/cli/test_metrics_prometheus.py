"""/metrics as an operator's Prometheus sees it: `promtool check metrics` accepts the exposition, and a real Prometheus
(Debian's `prometheus` package) started here, on loopback with a temporary configuration and data directory, scrapes
the real binary; PromQL for connection counts and delivery latency answers what this test caused."""
import contextlib
import json
import re
import subprocess
import time
import urllib.request

import pytest

websockets = pytest.importorskip("websockets")
from websockets.sync.client import connect  # noqa: E402

from conftest import API_KEY, start_server  # noqa: E402
from prometheus_support import PROMETHEUS, PROMTOOL, Prometheus, get, quantile_from_buckets, samples  # noqa: E402
pytestmark = pytest.mark.skipif(not (PROMTOOL and PROMETHEUS), reason="Debian's prometheus package is not installed")

CHANNEL = "ops:latency"
PUBLICATIONS = 20


def publish(server, data):
    body = json.dumps({"channel": CHANNEL, "data": data}).encode()
    request = urllib.request.Request(
        server.url + "/api/publish", data=body, headers={"authorization": "apikey " + API_KEY, "content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def subscriber(server, stack):
    ws = stack.enter_context(connect(f"ws://127.0.0.1:{server.port}/connection/websocket", subprotocols=["switchboard.v1.json"]))
    ws.send(json.dumps({"id": 1, "cmd": "subscribe", "channel": CHANNEL}))
    while "id" not in json.loads(ws.recv(timeout=10)):
        pass
    return ws


def next_publication(ws):
    while True:
        message = json.loads(ws.recv(timeout=10))
        if message.get("push") == "publication":
            return message


def websocket_latency_buckets(text):
    buckets = []
    for series, value in samples(text).items():
        match = re.fullmatch(r'switchboard_delivery_latency_seconds_bucket\{transport="websocket",le="([^"]+)"\}', series)
        if match:
            buckets.append((float(match.group(1)), value))
    return buckets


@pytest.fixture
def prometheus_and_server():
    server = start_server()
    prometheus = Prometheus(server.port)
    yield prometheus, server
    prometheus.stop()
    server.process.terminate()
    server.process.wait(timeout=15)


def test_promtool_accepts_the_metrics_exposition_after_traffic(server):
    with contextlib.ExitStack() as stack:
        check_metrics_after_traffic(server, stack)


def check_metrics_after_traffic(server, stack):
    sockets = [subscriber(server, stack) for _ in range(2)]
    for value in range(3):
        publish(server, value)
    for ws in sockets:
        for _ in range(3):
            next_publication(ws)
    text = get(server.url + "/metrics")
    checked = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    for family in (
        "switchboard_delivery_latency_seconds",
        "switchboard_engine_call_duration_seconds",
        "switchboard_publication_size_bytes",
        "switchboard_namespace_subscriptions",
        "switchboard_recoveries_total",
        "switchboard_rate_limited_total",
        "switchboard_slow_consumer_disconnects_total",
    ):
        assert f"# HELP {family} " in text


def test_a_real_prometheus_answers_connection_count_and_delivery_latency_p99(prometheus_and_server):
    prometheus, server = prometheus_and_server
    with contextlib.ExitStack() as stack:
        sockets = [subscriber(server, stack) for _ in range(3)]
        p99 = deliver_and_query(prometheus, server, sockets)
    prometheus.wait_for('switchboard_connections{transport="websocket"}', lambda values: values == [0.0])
    print(f"delivery latency p99 from Prometheus: {p99 * 1e6:.0f} µs")


def deliver_and_query(prometheus, server, sockets):
    client_latencies = []
    for value in range(PUBLICATIONS):
        started = time.monotonic()
        publish(server, value)
        for ws in sockets:
            next_publication(ws)
        client_latencies.append(time.monotonic() - started)

    connections = prometheus.wait_for('switchboard_connections{transport="websocket"}', lambda values: values == [3.0])
    assert connections == [3.0]
    deliveries = 3 * PUBLICATIONS
    prometheus.wait_for(
        'switchboard_delivery_latency_seconds_count{transport="websocket"}', lambda values: values == [float(deliveries)]
    )
    # Nothing is published any more, so the scraped histogram equals the server's own: Prometheus's p99 must be the
    # quantile of exactly those buckets.
    buckets = websocket_latency_buckets(get(server.url + "/metrics"))
    assert max(count for _, count in buckets) == deliveries
    expected_p99 = quantile_from_buckets(0.99, buckets)
    (p99,) = prometheus.wait_for(
        'histogram_quantile(0.99, sum by (le) (switchboard_delivery_latency_seconds_bucket{transport="websocket"}))',
        lambda values: len(values) == 1,
    )
    assert p99 == pytest.approx(expected_p99)
    # The server's latency is part of what the client saw (publish request to receipt on every socket), so its p99
    # lies at or below the bucket bound above the slowest round trip the test measured.
    bounds = sorted(bound for bound, _ in buckets)
    assert 0 < p99 <= next(bound for bound in bounds if bound >= max(client_latencies))
    return p99
