"""The README tour, as a user would run it: the real binary, curl-style HTTP, `switchboard subscribe`."""
import json
import signal
import subprocess
import urllib.error
import urllib.request

from conftest import API_KEY, BINARY, inherited_environment, start_server


def publish(server, channel, data):
    body = json.dumps({"channel": channel, "data": data}).encode()
    request = urllib.request.Request(
        server.url + "/api/publish", data=body, headers={"Authorization": f"apikey {API_KEY}", "Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def wait_for_subscribed(process, count=1):
    """Subscribe results go to stderr; publishing before them would race."""
    seen = 0
    for line in process.stderr:
        if '"result"' in line:
            seen += 1
            if seen == count:
                return
    raise AssertionError("subscriber exited before subscribing")


def test_publish_with_http_reaches_switchboard_subscribe(server):
    subscriber = server.spawn("subscribe", "chat:tour", "--count", "2")
    wait_for_subscribed(subscriber)
    first = publish(server, "chat:tour", {"text": "hello"})
    server.run("publish", "chat:tour", '{"text":"world"}').check_returncode()
    out, _ = subscriber.communicate(timeout=20)
    lines = [json.loads(line) for line in out.splitlines()]
    assert subscriber.returncode == 0
    assert [line["data"]["text"] for line in lines] == ["hello", "world"]
    assert lines[0]["offset"] == first["offset"] == 1
    assert lines[1]["offset"] == 2


def test_subscribe_since_recovers_exactly_what_was_missed(server):
    results = [publish(server, "chat:missed", {"n": n}) for n in range(1, 6)]
    epoch = results[0]["epoch"]
    done = server.run("subscribe", "chat:missed", "--since", f"{epoch}:2", "--count", "3")
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["data"]["n"] for line in done.stdout.splitlines()] == [3, 4, 5]


def test_plain_event_source_stream_receives_raw_data(server):
    with urllib.request.urlopen(server.url + "/raw/sse/news", timeout=10) as stream:
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        publish(server, "news", {"headline": "tour"})
        data = None
        while data is None:
            line = stream.readline().decode()
            if line.startswith("data: "):
                data = json.loads(line[len("data: "):])
    assert data == {"headline": "tour"}


def test_publish_with_a_wrong_key_fails_with_a_clear_message(server):
    done = subprocess.run(
        [BINARY, "publish", "x", "1", "--url", server.url, "--api-key", "wrong"], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 1
    assert "HTTP 401" in done.stderr and "invalid_api_key" in done.stderr


def test_publish_of_invalid_json_is_refused(server):
    """The CLI checks the JSON before sending it (SwitchboardKit's publisher)."""
    done = server.run("publish", "x", "{not json")
    assert done.returncode == 1
    assert "invalid JSON" in done.stderr


def test_sigterm_tells_subscribers_to_reconnect_and_exits_zero():
    """The subscriber is told 4001 and keeps trying to reconnect (it recovers once a server is back)."""
    srv = start_server()
    subscriber = srv.spawn("subscribe", "bye")
    wait_for_subscribed(subscriber)
    srv.process.send_signal(signal.SIGTERM)
    assert srv.process.wait(timeout=20) == 0
    told = False
    for line in subscriber.stderr:
        if "4001" in line and "server shutting down" in line and "reconnecting" in line:
            told = True
            break
    assert told
    assert subscriber.poll() is None
    subscriber.terminate()
    subscriber.wait(timeout=20)


def test_subscribe_resumes_after_a_restart_of_the_server_on_the_same_port_and_data(tmp_path):
    """A subscriber survives a server restart: it reconnects and recovers what was published meanwhile (SQLite)."""
    data = str(tmp_path / "data")
    first = start_server(env={"SWITCHBOARD_ENGINE_SQLITE_PATH": data})
    port = first.port
    subscriber = first.spawn("subscribe", "chat:restart", "--count", "3")
    wait_for_subscribed(subscriber)
    publish(first, "chat:restart", {"n": 1})
    first.process.send_signal(signal.SIGTERM)
    assert first.process.wait(timeout=20) == 0
    second = start_server("--port", str(port), env={"SWITCHBOARD_ENGINE_SQLITE_PATH": data})
    try:
        publish(second, "chat:restart", {"n": 2})
        publish(second, "chat:restart", {"n": 3})
        out, err = subscriber.communicate(timeout=30)
        assert subscriber.returncode == 0, err
        assert [json.loads(line)["data"]["n"] for line in out.splitlines()] == [1, 2, 3]
    finally:
        second.process.terminate()
        second.process.wait(timeout=20)


def test_bad_config_file_fails_at_start_naming_file_key_and_reason(tmp_path):
    config = tmp_path / "switchboard.yaml"
    config.write_text("limits:\n  max_message_bytes: lots\n")
    done = subprocess.run(
        [BINARY, "serve", "--config", str(config)], env=inherited_environment(), capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2
    assert str(config) in done.stderr and "limits.max_message_bytes" in done.stderr
    assert "Fatal error" not in done.stderr


def test_unknown_flag_and_unknown_environment_variable_are_refused(tmp_path):
    done = subprocess.run([BINARY, "serve", "--prot", "1"], capture_output=True, text=True, timeout=30)
    assert done.returncode != 0 and "--prot" in done.stderr
    env = {"SWITCHBOARD_PROTT": "1", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([BINARY, "serve"], capture_output=True, text=True, timeout=30, env=env)
    assert done.returncode == 2 and "SWITCHBOARD_PROTT" in done.stderr


def test_a_harness_naming_the_binary_in_the_environment_is_not_a_setting():
    srv = start_server(env={"SWITCHBOARD_BIN": BINARY})  # starting at all is the check: unknown variables stop serve
    srv.process.terminate()
    srv.process.wait(timeout=15)


def test_config_file_environment_and_flags_apply_in_that_order(tmp_path):
    config = tmp_path / "switchboard.yaml"
    config.write_text("server:\n  port: 1\nchannel_defaults:\n  history_size: 3\n")
    srv = start_server("--config", str(config), env={"SWITCHBOARD_PORT": "2"})  # --port 0 (flag) wins over both
    try:
        for n in range(1, 6):
            publish(srv, "p", n)
        request = urllib.request.Request(srv.url + "/api/history?channel=p", headers={"Authorization": f"apikey {API_KEY}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            history = json.load(response)
        assert [p["data"] for p in history["publications"]] == [3, 4, 5]  # history_size from the file
    finally:
        srv.process.terminate()
        srv.process.wait(timeout=15)


def test_help_describes_every_subcommand():
    done = subprocess.run([BINARY, "--help"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0
    for word in ("serve", "publish", "subscribe"):
        assert word in done.stdout
    serve = subprocess.run([BINARY, "serve", "--help"], capture_output=True, text=True, timeout=30)
    assert "--config" in serve.stdout and "--production" in serve.stdout
