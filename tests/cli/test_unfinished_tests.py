"""scripts/unfinished_tests.py: what the Swift step's watchdog prints when `swift test` overruns."""
import json, os, subprocess, sys

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "unfinished_tests.py")

def event(kind, test_id, since=None):
    payload = {"kind": kind, "testID": test_id}
    if since is not None:
        payload["instant"] = {"since1970": since}
    return json.dumps({"kind": "event", "payload": payload})

def run(tmp_path, lines):
    stream = tmp_path / "events.jsonl"
    stream.write_text("\n".join(lines) + "\n")
    return subprocess.run([sys.executable, SCRIPT, str(stream)], capture_output=True, text=True, check=True).stdout

def test_lists_unfinished_tests_longest_running_first_timed_from_the_runs_first_start(tmp_path):
    out = run(tmp_path, [
        event("testStarted", "Suite/early()", 100.0),   # ended: not listed, but it is the run's first start
        event("testStarted", "Suite/late()", 107.0),
        event("testStarted", "Suite/hung()", 102.0),
        event("testStarted", "Suite"),                   # a suite (no "/"): not listed
        event("testEnded", "Suite/early()"),
        '{"kind":"event","payload":{"kind":"testSta',    # the last line cut off where the run was stopped
    ])
    assert out == "  still running: Suite/hung() (started at +2 s)\n  still running: Suite/late() (started at +7 s)\n"

def test_a_test_without_a_start_time_is_listed_last_instead_of_failing_the_report(tmp_path):
    out = run(tmp_path, [event("testStarted", "Suite/timed()", 50.0), event("testStarted", "Suite/untimed()")])
    assert out == "  still running: Suite/timed() (started at +0 s)\n  still running: Suite/untimed() (start time unknown)\n"

def test_says_so_when_nothing_was_left_running(tmp_path):
    out = run(tmp_path, [event("testStarted", "Suite/a()", 1.0), event("testEnded", "Suite/a()")])
    assert "no Swift Testing test was left running" in out
