"""Real-browser tests of the browser client (clients/js) in Debian's Chromium, driven with Selenium.

Each test gets its own hub (the real `switchboard` binary on a free port, in-memory engine), the link-fault proxy
in front of it (tools/linkfault, a Node child process controlled over its HTTP control port) and a fresh headless
Chromium. Test pages are served by the hub from a temporary web root and loaded *through the proxy*, so the page's
origin is the proxy and every byte between the client and the hub crosses it. Publications come from the HTTP API
and carry a sequence number `n`; a page's copy is judged by those numbers.
"""
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request

import pytest

import main_thread

ROOT = pathlib.Path(__file__).resolve().parents[2]
PAGES = pathlib.Path(__file__).resolve().parent / "pages"
DIST = ROOT / "clients" / "js" / "dist"
LINKFAULT = ROOT / "tools" / "linkfault" / "linkfault.mjs"
BINARY = os.environ.get("SWITCHBOARD_BIN") or str(ROOT / ".build" / "debug" / "switchboard")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
NODE = shutil.which("node")
API_KEY = "browser-tests-api-key-0123456789"

# Rate limits off (the tests subscribe and reconnect far faster than a real client should), a short drain so that a
# restart is quick, and deep history so that a client held away by a fault recovers instead of resetting.
HUB_SETTINGS = [
    "limits.commands_per_second=0",
    "limits.publishes_per_second_per_user=0",
    "limits.publishes_per_second_per_channel=0",
    "shutdown.drain_timeout_ms=200",
    "channel_defaults.history_size=100000",
]


def _missing_tools():
    missing = [name for name, path in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER)) if not os.path.exists(path)]
    if not NODE:
        missing.append("node")
    return missing


def pytest_collection_modifyitems(config, items):
    missing = _missing_tools()
    if not missing:
        return
    skip = pytest.mark.skip(reason=f"real-browser tests need {', '.join(missing)} (scripts/install-test-deps.sh)")
    for item in items:
        if pathlib.Path(str(item.fspath)).resolve().is_relative_to(pathlib.Path(__file__).resolve().parent):
            item.add_marker(skip)


def wait_for_output(process, log_path, pattern, what, timeout=20.0):
    """Waits until the child's output (written to log_path) matches pattern; fails if it exits first."""
    deadline = time.monotonic() + timeout
    while True:
        text = log_path.read_text(errors="replace") if log_path.exists() else ""
        match = re.search(pattern, text)
        if match:
            return match
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode} before it was ready:\n{text}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not ready within {timeout} s:\n{text}")
        time.sleep(0.02)


def stop_process(process, timeout=15.0):
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def http(method, url, body=None, headers=None, timeout=10.0):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.read().decode()


class Hub:
    """The real server on the default engine (SQLite). `restart()` stops it (SIGTERM) and starts it again on the same
    port and data directory; `restart(lose_history=True)` on a new, empty one, as after a lost disk."""

    def __init__(self, web_root, log_dir):
        self.web_root = web_root
        self.log_dir = log_dir
        self.process = None
        self.port = 0
        self.starts = 0
        # The default engine (SQLite): one data directory for this hub, kept across restarts as an operator's would be.
        self.data_dir = tempfile.mkdtemp(prefix="switchboard-data-")

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        if not os.path.exists(BINARY):
            raise RuntimeError(f"switchboard binary not found at {BINARY}: build it or set SWITCHBOARD_BIN")
        self.starts += 1
        log_path = self.log_dir / f"hub-{self.starts}.log"
        # The hub refuses unknown SWITCHBOARD_* variables; none of the caller's settings should leak into it.
        env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
        env["SWITCHBOARD_API_KEY"] = API_KEY
        args = [BINARY, "serve", "--port", str(self.port), "--web-root", str(self.web_root),
                "--set", f"engine.sqlite.path={self.data_dir}"]
        for setting in HUB_SETTINGS:
            args += ["--set", setting]
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(args, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        match = wait_for_output(self.process, log_path, r"listening on http://127\.0\.0\.1:(\d+)", "switchboard")
        self.port = int(match.group(1))

    def stop(self):
        stop_process(self.process)

    def restart(self, lose_history=False):
        self.stop()
        if lose_history:
            self.data_dir = tempfile.mkdtemp(prefix="switchboard-data-")
        self.start()

    def publish(self, channel, data):
        answer = http("POST", f"{self.url}/api/publish", {"channel": channel, "data": data},
                      {"authorization": f"apikey {API_KEY}", "content-type": "application/json"})
        return json.loads(answer)

    def metrics(self):
        """Gauges and counters of /metrics as {'name{labels}': value}."""
        values = {}
        for line in http("GET", f"{self.url}/metrics").splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                values[name] = float(value)
        return values

    def connections(self):
        """Open client connections per transport (raw endpoints excluded), from the hub's /metrics."""
        metrics = self.metrics()
        return {t: int(metrics.get(f'switchboard_connections{{transport="{t}"}}', 0)) for t in ("websocket", "sse", "poll")}

    def subscriptions(self):
        return int(self.metrics()["switchboard_subscriptions"])


class LinkFault:
    """tools/linkfault/linkfault.mjs in a Node child process, driven over its control port."""

    def __init__(self, target, log_dir):
        log_path = log_dir / "linkfault.log"
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen([NODE, str(LINKFAULT), "--target", target], stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        match = wait_for_output(self.process, log_path, r"listening on (\S+) control (\S+)", "linkfault")
        self.url, self.control_url = match.group(1), match.group(2)

    def control(self, path, **query):
        suffix = "?" + urllib.parse.urlencode(query) if query else ""
        method = "GET" if path == "stats" else "POST"
        return json.loads(http(method, f"{self.control_url}/{path}{suffix}", body=None if method == "GET" else {}))

    def cut(self):
        return self.control("cut")

    def offline(self, on):
        return self.control("offline", on=int(on))

    def refuse_websocket(self, on):
        return self.control("websocket", refuse=int(on))

    def buffer_streams(self, on):
        return self.control("buffer", on=int(on))

    def stats(self):
        return self.control("stats")["stats"]

    def close(self):
        stop_process(self.process, timeout=5)


class Publisher:
    """Publishes {"n": 1, 2, 3, …} to one channel through the HTTP API, from a background thread, until stopped."""

    def __init__(self, hub, channel, interval=0.02):
        self.hub, self.channel, self.interval = hub, channel, interval
        self.published = 0
        self.positions = {}  # n -> (epoch, offset)
        self._stop = threading.Event()
        self._thread = None
        self.error = None

    def publish_next(self):
        n = self.published + 1
        answer = self.hub.publish(self.channel, {"n": n})
        self.positions[n] = (answer["epoch"], answer["offset"])
        self.published = n
        return n

    def _run(self):
        try:
            while not self._stop.is_set():
                self.publish_next()
                self._stop.wait(self.interval)  # pacing, not synchronisation
        except Exception as error:  # surfaced by stop()
            self.error = error

    def start(self):
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=15)
        if self.error:
            raise self.error
        return self.published


class Page:
    """One tab showing tests/browser/pages/client.html; reads `window.sb` with explicit waits."""

    def __init__(self, browser, handle):
        self.browser, self.handle = browser, handle

    def run(self, script, *args):
        self.browser.driver.switch_to.window(self.handle)
        return self.browser.driver.execute_script(script, *args)

    def run_async(self, script, *args, timeout=60):
        driver = self.browser.driver
        driver.switch_to.window(self.handle)
        driver.set_script_timeout(timeout)
        return driver.execute_async_script(script, *args)

    def status(self):
        return self.run("return window.sb ? window.sb.status() : null")

    def copy(self):
        """The received sequence numbers, in delivery order."""
        return self.run("return window.sb.got")

    def log_tail(self, lines=40):
        return self.run("return window.sb ? window.sb.log.slice(-arguments[0]) : []", lines)

    def wait_until(self, condition, what, timeout=30):
        """Explicit wait: polls status() until condition(status) holds; the failure names `what` and shows the last
        status and the client's debug log."""
        from selenium.common.exceptions import TimeoutException
        from selenium.webdriver.support.ui import WebDriverWait

        seen = {}

        def holds(_driver):
            seen["status"] = self.status()
            return seen["status"] if seen["status"] is not None and condition(seen["status"]) else False

        try:
            return WebDriverWait(self.browser.driver, timeout, poll_frequency=0.05).until(holds)
        except TimeoutException:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}; last status: {seen.get('status')}\n"
                                 + "\n".join(self.log_tail())) from None

    def wait_until_script(self, script, what, timeout=30):
        """Explicit wait: polls a script until it returns a truthy value; the failure names `what`."""
        from selenium.common.exceptions import TimeoutException
        from selenium.webdriver.support.ui import WebDriverWait

        self.browser.driver.switch_to.window(self.handle)
        try:
            return WebDriverWait(self.browser.driver, timeout, poll_frequency=0.05).until(
                lambda driver: driver.execute_script(script))
        except TimeoutException:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}") from None

    def wait_connected(self, transport=None, timeout=30):
        return self.wait_until(
            lambda s: s["status"] == "connected" and s["subscription"] in ("subscribed", None)
            and (transport is None or s["transport"] == transport),
            f"connected{' over ' + transport if transport else ''} and subscribed", timeout)

    def wait_for_more(self, count, what="more publications", timeout=30):
        """Waits until the page has received `count` more publications than it has now."""
        start = self.status()["count"]
        return self.wait_until(lambda s: s["count"] >= start + count, f"{count} {what}", timeout)

    def wait_for_last(self, n, timeout=30):
        return self.wait_until(lambda s: s["last"] >= n, f"publication {n} to arrive", timeout)


class Browser:
    def __init__(self, driver):
        self.driver = driver

    def open(self, url, new_tab=True):
        if new_tab and self.driver.current_url not in ("about:blank", "data:,"):
            self.driver.switch_to.new_window("tab")
        self.driver.get(url)
        return Page(self, self.driver.current_window_handle)

    def close_tab(self, page):
        self.driver.switch_to.window(page.handle)
        self.driver.close()
        remaining = self.driver.window_handles
        if remaining:
            self.driver.switch_to.window(remaining[0])

    def set_network_offline(self, offline):
        """Chromium's network emulation (DevTools): fires the page's `offline`/`online` events. It does NOT close
        open sockets (STACK-NOTES), so a test combines it with a proxy cut."""
        self.driver.execute_cdp_cmd("Network.enable", {})
        self.driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
            "offline": bool(offline), "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})


def wait_for_connections(hub, expected, timeout=15):
    """Waits until the hub's /metrics show exactly `expected` ({transport: open connections}); probes and closing
    connections can make the numbers differ for a moment."""
    deadline = time.monotonic() + timeout
    while True:
        current = hub.connections()
        if all(current.get(t, 0) == n for t, n in expected.items()):
            return current
        if time.monotonic() > deadline:
            raise AssertionError(f"hub connections {current}, expected {expected}")
        time.sleep(0.05)


def judge(copy, published):
    """Compares a page's copy with publications 1..published: the lost, duplicated and out-of-order numbers."""
    seen = set()
    duplicated = sorted({n for n in copy if n in seen or seen.add(n)})
    lost = sorted(set(range(1, published + 1)) - set(copy))
    out_of_order = sum(1 for a, b in zip(copy, copy[1:]) if b <= a)
    return {"received": len(copy), "published": published, "lost": lost[:20], "lost_count": len(lost),
            "duplicated": duplicated[:20], "out_of_order": out_of_order}


def assert_exact_copy(copy, published):
    verdict = judge(copy, published)
    assert copy == list(range(1, published + 1)), f"the page's copy is not exact: {verdict}"
    return verdict


def assert_every_page_exact_without_reset(pages, published):
    """Each page received all `published` publications, exactly once and in order, and never had to reset."""
    for page in pages:
        page.wait_for_last(published)
        assert_exact_copy(page.copy(), published)
        assert page.status()["resets"] == 0


@pytest.fixture(scope="session")
def web_root():
    """Test pages plus the client bundle (built once when clients/js/dist is missing)."""
    if not all((DIST / name).exists() for name in ("switchboard.iife.js", "switchboard-worker.js")):
        subprocess.run([str(ROOT / "clients" / "js" / "build.sh")], check=True, capture_output=True)
    root = pathlib.Path(tempfile.mkdtemp(prefix="sb-browser-web-"))
    for page in PAGES.iterdir():
        shutil.copy(page, root / page.name)
    for name in ("switchboard.iife.js", "switchboard.iife.js.map", "switchboard-worker.js", "switchboard-worker.js.map"):
        if (DIST / name).exists():
            shutil.copy(DIST / name, root / name)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def hub(web_root, tmp_path):
    server = Hub(web_root, tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def proxy(hub, tmp_path):
    link = LinkFault(hub.url, tmp_path)
    yield link
    link.close()


def _start_browser(trace=False):
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        raise RuntimeError("the browser tests need Selenium: scripts/install-test-deps.sh (pip install selenium)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-extensions", "--no-first-run"):
        options.add_argument(argument)
    if trace:
        main_thread.enable(options)
    return webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))


@pytest.fixture
def browser():
    driver = _start_browser()
    try:
        yield Browser(driver)
    finally:
        driver.quit()


@pytest.fixture
def traced_browser():
    """A browser whose page's main-thread tasks can be read from the trace (tests/main_thread.py)."""
    driver = _start_browser(trace=True)
    try:
        yield Browser(driver)
    finally:
        driver.quit()


@pytest.fixture
def page_url(proxy):
    """URL of the test page through the proxy, with createClient options for the page."""
    def build(channel, manual=False, debug=True, **options):
        query = {"channel": channel, "options": json.dumps(options)}
        if manual:
            query["manual"] = "1"
        if debug:
            query["debug"] = "1"
        return f"{proxy.url}/client.html?{urllib.parse.urlencode(query)}"
    return build
