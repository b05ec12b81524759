"""Browser tests of the demo apps (web/): the real server serving web/dist, driven in headless Chromium.

Needs /usr/bin/chromium, /usr/bin/chromedriver, the `selenium` package, esbuild and Debian's React (web/build.sh),
and a server binary (SWITCHBOARD_BIN, else .build/debug/switchboard); skips with the reason when one is missing.
Every wait is on a condition with a deadline; servers, proxies and browsers are stopped after each test.
"""
import json
import os
import pathlib
import re
import shutil
import socket
import subprocess
import threading
import urllib.request

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BINARY = os.environ.get("SWITCHBOARD_BIN", str(ROOT / ".build" / "debug" / "switchboard"))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
API_KEY = "demo-test-key-0123456789"
HMAC_SECRET = "demo-test-hmac-secret-0123456789abcdef"  # 32+ bytes: the chat test mints user tokens
ARTIFACTS = ROOT / "artifacts" / "demos"

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # pragma: no cover - reported as a skip below
    webdriver = None


def _missing():
    if webdriver is None:
        return "selenium is not installed (pip install selenium)"
    for path, what in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromedriver (chromium-driver)")):
        if not os.access(path, os.X_OK):
            return f"{what} is missing at {path}"
    if not shutil.which("esbuild"):
        return "esbuild is missing (web/build.sh needs it)"
    if not pathlib.Path("/usr/share/nodejs/react-dom").is_dir():
        return "Debian's React is missing (node-react, node-react-dom)"
    if not os.access(BINARY, os.X_OK):
        return f"no server binary at {BINARY} (swift build, or set SWITCHBOARD_BIN)"
    return None


def pytest_collection_modifyitems(config, items):
    reason = _missing()
    if reason:
        for item in items:
            if "tests/demos" in str(item.fspath).replace(os.sep, "/"):
                item.add_marker(pytest.mark.skip(reason=reason))


def demo_flags():
    """The namespace options `make run` passes (the Makefile's DEMO_FLAGS line), so tests and `make run` agree."""
    text = (ROOT / "Makefile").read_text()
    match = re.search(r"^DEMO_FLAGS\s*:=\s*(.+)$", text, re.M)
    assert match, "Makefile has no DEMO_FLAGS line"
    return match.group(1).split()


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class DemoServer:
    """`switchboard serve --web-root web/dist` with the demo namespaces, on a given or free port."""

    def __init__(self, port=0, extra=()):
        self.requested_port = port
        self.extra = list(extra)
        self.process = None
        self.port = None

    def start(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
        env.update(SWITCHBOARD_API_KEY=API_KEY, SWITCHBOARD_AUTH_HMAC_SECRET=HMAC_SECRET)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.log = open(ARTIFACTS / "server.log", "a")
        self.process = subprocess.Popen(
            [BINARY, "serve", "--port", str(self.requested_port), "--web-root", str(ROOT / "web" / "dist"),
             "--set", "shutdown.drain_timeout_ms=500", *demo_flags(), *self.extra],
            env=env, stdout=subprocess.PIPE, stderr=self.log, text=True,
        )
        for line in self.process.stdout:  # the banner names the bound port: wait for it, no sleeping
            match = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
            if match:
                self.port = int(match.group(1))
                threading.Thread(target=self.process.stdout.read, daemon=True).start()  # keep the pipe drained
                return self
        raise RuntimeError(f"server exited before listening (see {ARTIFACTS / 'server.log'})")

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process and self.process.stdout:
            self.process.stdout.close()
        self.process = None

    def publish(self, channel, data, **extra):
        return self.api("/api/publish", {"channel": channel, "data": data, **extra})

    def publish_batch(self, publications):
        return self.api("/api/publish", {"publications": publications})

    def api(self, path, body):
        request = urllib.request.Request(
            self.url + path, data=json.dumps(body).encode(), method="POST",
            headers={"Authorization": f"apikey {API_KEY}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def token(self, user):
        env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
        env.update(SWITCHBOARD_AUTH_HMAC_SECRET=HMAC_SECRET)
        result = subprocess.run([BINARY, "token", "--sub", user], env=env, capture_output=True, text=True, timeout=30, check=True)
        return result.stdout.strip().split()[-1]


@pytest.fixture(scope="session")
def built_web():
    result = subprocess.run(["bash", str(ROOT / "web" / "build.sh")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return ROOT / "web" / "dist"


@pytest.fixture
def servers(built_web):
    """Starts demo servers on demand; every one is stopped after the test."""
    started = []

    def start(port=0, extra=()):
        server = DemoServer(port, extra).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def server(servers):
    return servers()


class Browser:
    """One headless Chromium (its own profile, so two of them are two users) with condition waits."""

    def __init__(self, driver):
        self.driver = driver

    def open(self, url):
        self.driver.get(url)
        return self

    def wait(self, condition, timeout=15, message=""):
        return WebDriverWait(self.driver, timeout, poll_frequency=0.05).until(lambda driver: condition(), message)

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def text(self, testid):
        return self.js(f"const e = document.querySelector('[data-testid=\"{testid}\"]'); return e ? e.textContent : null;")

    def attr(self, testid, name):
        return self.js(f"const e = document.querySelector('[data-testid=\"{testid}\"]'); return e ? e.getAttribute('{name}') : null;")

    def click(self, testid):
        self.driver.find_element("css selector", f'[data-testid="{testid}"]').click()

    def type(self, testid, text):
        self.driver.find_element("css selector", f'[data-testid="{testid}"]').send_keys(text)

    def console(self):
        """Browser console entries since the last call (level, message)."""
        return [(entry["level"], entry["message"]) for entry in self.driver.get_log("browser")]

    def errors(self, ignore=()):
        return [message for level, message in self.console() if level == "SEVERE" and not any(part in message for part in ignore)]

    def screenshot(self, name):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


@pytest.fixture
def browsers():
    """Starts headless Chromium instances on demand; all are quit after the test."""
    started = []

    def start():
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,860",
                         "--disable-background-timer-throttling", "--disable-renderer-backgrounding"):
            options.add_argument(argument)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
        started.append(driver)
        return Browser(driver)

    yield start
    for driver in started:
        try:
            driver.quit()
        except Exception:  # noqa: BLE001 - a crashed browser is already gone
            pass


@pytest.fixture
def browser(browsers):
    return browsers()
