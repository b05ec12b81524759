"""Main-thread time of a page in headless Chromium, from the trace chromedriver records (its performance log).

Why a trace and not only the Long Tasks API: a long task is measured in wall-clock time, and on this shared 2-core
machine a renderer waiting for a core looks busy. Measured here at a load average of 12, a page's 80 ms busy loop was
one task of 86 ms wall time and 13 ms of CPU time. The trace gives every main-thread task both: `dur` (wall) and
`tdur` (the thread's CPU time), so budgets are asserted on CPU time, which load does not inflate, and wall-clock
figures are reported next to them.

Use: `enable(options)` before starting the browser; `window = MainThreadWindow(driver).begin()`, the work, then
`window.end()` returns the figures of the tasks that ran on the page's main thread between the two calls.
"""
import itertools
import json

# RunTask events (one per main-thread task, with `dur` and `tdur`) and performance.mark() for the window's edges.
TRACE_CATEGORIES = "disabled-by-default-devtools.timeline,blink.user_timing"
_windows = itertools.count(1)


def enable(options):
    """Asks chromedriver to trace the page (collected with every get_log('performance'))."""
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    options.add_experimental_option("perfLoggingPrefs", {"traceCategories": TRACE_CATEGORIES})


class MainThreadWindow:
    """The page's main-thread tasks between begin() and end(), read from the trace."""

    def __init__(self, driver):
        self.driver = driver
        number = next(_windows)
        self.start_mark, self.end_mark = f"sb-window-{number}-start", f"sb-window-{number}-end"

    def begin(self):
        self._read_events()  # drop what was traced before (the window's edges are found by their marks anyway)
        self.driver.execute_script("performance.mark(arguments[0])", self.start_mark)
        return self

    def _read_events(self):
        return [json.loads(entry["message"])["message"]["params"] for entry in self.driver.get_log("performance")
                if '"Tracing.dataCollected"' in entry["message"]]

    def end(self):
        """Figures in milliseconds: tasks, CPU and wall time in all, and the longest task by each measure."""
        self.driver.execute_script("performance.mark(arguments[0])", self.end_mark)
        # chromedriver hands over the trace on every other get_log() (measured: the calls in between return nothing,
        # and nothing is lost), so read until both marks have come, a few calls at most.
        events, marks = [], {}
        for _ in range(6):
            events += self._read_events()
            marks = {event["name"]: event for event in events if event.get("name") in (self.start_mark, self.end_mark)}
            if len(marks) == 2:
                break
        if len(marks) != 2:
            raise AssertionError(f"the trace lacks the window's marks (found {sorted(marks)} in {len(events)} events)")
        start, end = marks[self.start_mark], marks[self.end_mark]
        # The marks were written on the page's main thread: its tasks share their process and thread.
        tasks = [event for event in events if event.get("name") == "RunTask" and event.get("ph") == "X"
                 and event.get("pid") == start["pid"] and event.get("tid") == start["tid"]
                 and start["ts"] <= event["ts"] <= end["ts"]]
        cpu = [event.get("tdur", 0) / 1000 for event in tasks]
        wall = [event.get("dur", 0) / 1000 for event in tasks]
        return {
            "tasks": len(tasks),
            "windowMs": round((end["ts"] - start["ts"]) / 1000, 1),
            "cpuMs": round(sum(cpu), 1),
            "wallMs": round(sum(wall), 1),
            "longestTaskCpuMs": round(max(cpu, default=0), 1),
            "longestTaskWallMs": round(max(wall, default=0), 1),
            "tasksOver50msCpu": sum(1 for value in cpu if value > 50),
            "tasksOver50msWall": sum(1 for value in wall if value > 50),
        }
