#!/usr/bin/env python3
"""Prints the Swift Testing tests that started and never ended, from the event stream `swift test` wrote
(`--event-stream-output-path FILE --event-stream-version 0`, one JSON record per line).

Used by scripts/test.sh when its watchdog stops `swift test`: the names say which test hung. (The console output
is no help there: with stdout and stderr merged, some of its "passed" lines go missing.)
"""
import json
import sys


def unfinished(lines):
    """The tests started and not ended (id -> start, seconds since 1970 or None), and the run's first start."""
    running = {}
    first_start = None
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue  # the last line may be cut off where the run was stopped
        payload = record.get("payload", {})
        if record.get("kind") != "event" or "testID" not in payload:
            continue
        if payload.get("kind") == "testStarted":
            start = payload.get("instant", {}).get("since1970")
            running[payload["testID"]] = start
            if start is not None and (first_start is None or start < first_start):
                first_start = start
        elif payload.get("kind") in ("testEnded", "testSkipped"):
            running.pop(payload["testID"], None)
    return running, first_start


def report(running, first_start, most=30):
    """The tests (not suites) still running, the longest-running first: a hung test started long before the end.
    With the parallelism cap, tests waiting for a slot count as started too; they come last."""
    tests = [(start, test_id) for test_id, start in running.items() if "/" in test_id]
    tests.sort(key=lambda item: item[0] if item[0] is not None else float("inf"))
    lines = [f"  still running: {test_id} ({started(start, first_start)})" for start, test_id in tests[:most]]
    if len(tests) > most:
        lines.append(f"  … and {len(tests) - most} more started later")
    return lines


def started(start, first_start):
    """When a test started, counted from the run's first test."""
    if start is None or first_start is None:
        return "start time unknown"
    return f"started at +{start - first_start:.0f} s"


if __name__ == "__main__":
    try:
        lines = open(sys.argv[1], encoding="utf-8", errors="replace").readlines()
    except OSError as error:
        print(f"  no event stream: {error} (the test binary had not started)")
        sys.exit(0)
    running, first_start = unfinished(lines)
    for line in report(running, first_start):
        print(line)
    if not running:
        print("  (no Swift Testing test was left running: the hang is outside a test, or in XCTest)")
