#!/usr/bin/env python3
"""Adds up the results of every test runner's log and prints one line: "N passed, N failed".

Exits non-zero when anything failed or nothing ran, so a run that executed no test is visible.
"""
import re
import sys


def swift_testing(text):
    """Swift Testing's closing line counts every test (and argument case); failures are the tests marked failed."""
    failed = len(re.findall(r"^\S* ?Test \S.*\) failed after", text, re.M))
    totals = re.findall(r"Test run with (\d+) tests?", text)
    if not totals:
        return 0, max(failed, 1)  # the runner did not finish: count that as a failure
    return int(totals[-1]) - failed, failed


def pytest(text):
    passed = failed = 0
    summary = [line for line in text.splitlines() if re.search(r"\d+ (passed|failed|error)", line)]
    if summary:
        line = summary[-1]
        passed = sum(int(n) for n in re.findall(r"(\d+) passed", line))
        failed = sum(int(n) for n in re.findall(r"(\d+) (?:failed|errors?)", line))
    return passed, failed


def node(text):
    """node --test's TAP reporter ends with "# pass N" and "# fail N"; without them the runner did not finish."""
    passes = re.findall(r"^# pass (\d+)", text, re.M)
    if not passes:
        return 0, 1
    passed = sum(int(n) for n in passes)
    failed = sum(int(n) for n in re.findall(r"^# fail (\d+)", text, re.M))
    return passed, failed


def autobahn(text):
    """scripts/autobahn.sh ends with "autobahn: N passed, N failed" (OK, NON-STRICT and INFORMATIONAL pass)."""
    totals = re.findall(r"^autobahn: (\d+) passed, (\d+) failed", text, re.M)
    if not totals:
        return 0, 1  # the suite did not report: count that as a failure
    passed, failed = totals[-1]
    return int(passed), int(failed)


def fuzz(text):
    """scripts/fuzz.sh ends with "N passed, N failed", one per fuzz target."""
    totals = re.findall(r"^(\d+) passed, (\d+) failed", text, re.M)
    if not totals:
        return 0, 1  # the fuzz build or run did not report: count that as a failure
    passed, failed = totals[-1]
    return int(passed), int(failed)


PARSERS = {"swift-test": swift_testing, "pytest": pytest, "node-test": node, "autobahn": autobahn, "fuzz": fuzz}


def main(paths):
    total_passed = total_failed = 0
    for path in paths:
        kind = next((k for k in PARSERS if k in path), None)
        try:
            text = open(path, encoding="utf-8", errors="replace").read()
        except OSError:
            print(f"{path}: missing log", file=sys.stderr)
            total_failed += 1
            continue
        passed, failed = PARSERS[kind](text)
        print(f"{path}: {passed} passed, {failed} failed")
        total_passed += passed
        total_failed += failed
    print(f"{total_passed} passed, {total_failed} failed")
    return 0 if total_failed == 0 and total_passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
