"""Browser tests of the demo apps (web/): the real server serving web/dist, driven in headless Chromium.

Needs /usr/bin/chromium, /usr/bin/chromedriver, the `selenium` package, esbuild and Debian's React (web/build.sh),
and a server binary (SWITCHBOARD_BIN, else .build/debug/switchboard); skips with the reason when one is missing.
Every wait is on a condition with a deadline; servers, proxies and browsers are stopped after each test.
"""
import os
import subprocess

import pytest

import main_thread
from demo_support import CHROMEDRIVER, CHROMIUM, ROOT, Browser, DemoServer, missing

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
except ImportError:  # reported as a skip
    webdriver = None


def pytest_collection_modifyitems(config, items):
    reason = missing()
    if reason:
        for item in items:
            if "tests/demos/" in str(item.fspath).replace(os.sep, "/"):
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def built_web():
    result = subprocess.run(["bash", str(ROOT / "web" / "build.sh")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return ROOT / "web" / "dist"


@pytest.fixture
def servers(built_web):
    """Starts demo servers on demand; every one is stopped after the test."""
    started = []

    def start(port=0, demo=True, extra=()):
        server = DemoServer(port, demo, extra).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def server(servers):
    return servers()


@pytest.fixture
def browsers():
    """Starts headless Chromium instances on demand (`trace=True`: with the main-thread trace of tests/main_thread.py);
    all are quit after the test."""
    started = []

    def start(trace=False):
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,860",
                         "--disable-background-timer-throttling", "--disable-renderer-backgrounding"):
            options.add_argument(argument)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        if trace:
            main_thread.enable(options)
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


@pytest.fixture
def traced_browser(browsers):
    return browsers(trace=True)
