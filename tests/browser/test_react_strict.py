"""The React provider under StrictMode in real Chromium (issue 16, item 2).

StrictMode renders twice and throws one render away; a provider that built its client while rendering leaked that
client, and with cross-tab sharing (a Web Lock and a BroadcastChannel, which Node tests do not have) the leaked one
could win the election and hold a connection nobody closes. Here three tabs of one origin mount and unmount a
StrictMode app with a provider 20 times: while mounted the hub sees exactly one connection (shared by the tabs), after
unmounting none.
"""
import os
import subprocess

import pytest

from conftest import ROOT, wait_for_connections

CYCLES = 20
TABS = 3
NONE = {"websocket": 0, "sse": 0, "poll": 0}


@pytest.fixture(scope="module")
def react_app(web_root):
    """Bundles react_app/strict_app.js with Debian's React (development build) and the bindings' sources."""
    if not os.path.isdir("/usr/share/nodejs/react-dom"):
        pytest.skip("needs Debian's React (node-react, node-react-dom)")
    subprocess.run(
        ["esbuild", str(ROOT / "tests" / "browser" / "react_app" / "strict_app.js"), "--bundle", "--format=esm",
         "--target=es2020", f"--tsconfig={ROOT / 'web' / 'tsconfig.json'}",
         "--define:process.env.NODE_ENV=\"development\"", f"--outfile={web_root / 'react-strict.js'}",
         "--log-level=warning"],
        check=True, env={**os.environ, "NODE_PATH": "/usr/share/nodejs"})
    return web_root / "react-strict.js"


def total(connections):
    return sum(connections.values())


def test_a_strict_mode_provider_mounted_and_unmounted_20_times_in_3_tabs_holds_one_connection_and_leaves_none(
        hub, browser, react_app):
    pages = [browser.open(f"{hub.url}/react-strict.html") for _ in range(TABS)]
    for page in pages:
        page.wait_until_script("return typeof window.app === 'object'", "the app bundle to load")
    for cycle in range(CYCLES):
        for page in pages:
            page.run("window.app.mount('browser:strict')")
        for page in pages:
            page.wait_until_script("return window.app.status() === 'connected'", f"cycle {cycle}: every tab connected")
        connected = wait_for_connections(hub, {"websocket": 1, "sse": 0, "poll": 0})
        assert total(connected) == 1, f"cycle {cycle}: {connected}"
        assert hub.subscriptions() == 1, f"cycle {cycle}: one server subscription for three tabs"
        for page in pages:
            page.run("window.app.unmount()")
        assert wait_for_connections(hub, NONE) == NONE, f"cycle {cycle}: a connection was left behind"
    print(f"{CYCLES} StrictMode mount/unmount cycles in {TABS} tabs: 1 connection while mounted, 0 after, every time")
