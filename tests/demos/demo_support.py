"""Helpers of the demo apps' browser tests (tests/demos): the real server serving web/dist, headless Chromium.

Needs /usr/bin/chromium, /usr/bin/chromedriver, the `selenium` package, esbuild and Debian's React (web/build.sh),
and a server binary (SWITCHBOARD_BIN, else .build/debug/switchboard); skips with the reason when one is missing.
Every wait is on a condition with a deadline; servers, proxies and browsers are stopped after each test.
"""
import json
import os
import pathlib
import re
import shutil
import subprocess
import tempfile
import threading
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[2]
BINARY = os.environ.get("SWITCHBOARD_BIN", str(ROOT / ".build" / "debug" / "switchboard"))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
API_KEY = "demo-test-key-0123456789"
ARTIFACTS = ROOT / "artifacts" / "demos"

try:
    from selenium import webdriver
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # pragma: no cover - reported as a skip below
    webdriver = None


def missing():
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


class DemoServer:
    """`switchboard serve --web-root web/dist`, in demo mode (as `make run`) unless told otherwise, on a given or free port."""

    def __init__(self, port=0, demo=True, extra=()):
        self.requested_port = port
        self.extra = (["--demo"] if demo else []) + list(extra)
        self.process = None
        self.port = None

    def start(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
        env.update(SWITCHBOARD_API_KEY=API_KEY)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.log = open(ARTIFACTS / "server.log", "a")
        self.process = subprocess.Popen(
            [BINARY, "serve", "--port", str(self.requested_port), "--web-root", str(ROOT / "web" / "dist"),
             "--set", "shutdown.drain_timeout_ms=500", "--set", f"engine.sqlite.path={tempfile.mkdtemp(prefix='switchboard-data-')}",
             *self.extra],
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

    def connections(self):
        """Open client connections per transport, from the hub's /metrics."""
        with urllib.request.urlopen(self.url + "/metrics", timeout=10) as response:
            text = response.read().decode()
        found = {}
        for transport in ("websocket", "sse", "poll"):
            match = re.search(r'^switchboard_connections\{transport="%s"\} (\S+)$' % transport, text, re.MULTILINE)
            found[transport] = int(float(match.group(1))) if match else 0
        return found

    def api(self, path, body):
        request = urllib.request.Request(
            self.url + path, data=json.dumps(body).encode(), method="POST",
            headers={"Authorization": f"apikey {API_KEY}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())


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
