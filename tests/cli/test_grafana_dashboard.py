"""deploy/grafana/switchboard.json: Grafana cannot be installed here, so its structure is checked as data, and every
PromQL expression in it is run against a real Prometheus scraping the real binary after some traffic: each one must
parse and return at least one series."""
import contextlib
import json
import pathlib
import urllib.request

import pytest

websockets = pytest.importorskip("websockets")
from websockets.sync.client import connect  # noqa: E402

from conftest import API_KEY, ROOT, start_server  # noqa: E402
from prometheus_support import PROMETHEUS, Prometheus  # noqa: E402

DASHBOARD = ROOT / "deploy" / "grafana" / "switchboard.json"
pytestmark = pytest.mark.skipif(not PROMETHEUS, reason="Debian's prometheus package is not installed")


def dashboard():
    return json.loads(pathlib.Path(DASHBOARD).read_text())


def expressions():
    return [target["expr"] for panel in dashboard()["panels"] for target in panel["targets"]]


def test_the_dashboard_is_importable_grafana_json():
    board = dashboard()
    assert board["uid"] == "switchboard" and board["title"] and isinstance(board["schemaVersion"], int)
    assert [entry["name"] for entry in board["__inputs"]] == ["DS_PROMETHEUS"]
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in board["panels"]:
        assert panel["type"] == "timeseries" and panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
        assert set(panel["gridPos"]) == {"h", "w", "x", "y"} and panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert ref_ids and len(ref_ids) == len(set(ref_ids))
        for target in panel["targets"]:
            assert target["expr"].strip() and target["datasource"] == panel["datasource"]
    titles = " ".join(panel["title"].lower() for panel in board["panels"])
    for topic in ("connections", "deliveries", "latency", "slow-consumer", "recoveries", "engine"):
        assert topic in titles


def publish(server, channel, data):
    request = urllib.request.Request(
        server.url + "/api/publish",
        data=json.dumps({"channel": channel, "data": data}).encode(),
        headers={"authorization": "apikey " + API_KEY, "content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        return json.load(response)


def command(ws, message):
    ws.send(json.dumps(message))
    while True:
        answer = json.loads(ws.recv(timeout=10))
        if answer.get("id") == message["id"]:
            return answer


def test_every_expression_parses_and_returns_data_from_a_real_prometheus():
    server = start_server()
    prometheus = Prometheus(server.port)
    try:
        with contextlib.ExitStack() as stack:
            url = f"ws://127.0.0.1:{server.port}/connection/websocket"
            ws = stack.enter_context(connect(url, subprotocols=["switchboard.v1.json"]))
            first = publish(server, "chat:room", {"n": 0})
            # A subscription that resumes from a position: the recoveries panel has a series to show.
            command(ws, {"id": 1, "cmd": "subscribe", "channel": "chat:room", "since": {"epoch": first["epoch"], "offset": 0}})
            # Traffic across several scrapes, so every rate() has two samples that differ.
            for round_number in range(1, 11):
                publish(server, "chat:room", {"n": round_number})
                while json.loads(ws.recv(timeout=10)).get("push") != "publication":
                    pass
                prometheus.wait_for(
                    "switchboard_deliveries_total", lambda values, n=round_number: values and values[0] >= n, timeout=30
                )
            for expression in expressions():
                # $__rate_interval is Grafana's; at a 100 ms scrape interval one minute covers every sample taken here.
                query = expression.replace("$__rate_interval", "1m")
                values = prometheus.wait_for(query, lambda values: len(values) > 0, timeout=30)
                assert values, expression
    finally:
        prometheus.stop()
        server.process.terminate()
        server.process.wait(timeout=15)
