"""The index, the plain EventSource/WebSocket news pages, notifications across a server restart, the connection lab."""
import re
import subprocess

from demo_support import ROOT

# Network errors Chromium logs by itself while a server is deliberately down (not page errors).
DOWN = ("ERR_CONNECTION_REFUSED", "ERR_CONNECTION_RESET", "ERR_EMPTY_RESPONSE", "ERR_INCOMPLETE_CHUNKED_ENCODING", "net::ERR")


def items(browser, testid="news-item"):
    return browser.js(f"return [...document.querySelectorAll('[data-testid={testid}] b')].map(e => e.textContent)")


def test_index_links_every_demo_and_each_page_loads_cleanly(server, browser):
    browser.open(f"{server.url}/")
    links = browser.js("return [...document.querySelectorAll('a.card')].map(a => a.getAttribute('href'))")
    assert links == ["chat.html", "ticker.html", "notifications.html", "news.html", "news-ws.html", "editor.html", "lab.html"]
    browser.screenshot("index")
    for link in links:
        browser.open(f"{server.url}/{link}")
        if link == "chat.html":
            browser.type("name", "-x")
            browser.driver.find_element("css selector", "form button").click()
        browser.wait(
            lambda: browser.js("const b = document.querySelector('[data-testid=banner],[data-testid=status]');"
                               "return b && ['connected', 'open'].includes(b.dataset.status || '') || /connected/.test(b && b.textContent || '')"),
            message=f"{link} connects",
        )
        assert browser.errors() == [], link


def test_news_feed_on_plain_eventsource_and_websocket(server, browsers):
    sse, ws = browsers(), browsers()
    sse.open(f"{server.url}/news.html")
    ws.open(f"{server.url}/news-ws.html")
    sse.wait(lambda: sse.attr("status", "data-status") == "open", message="EventSource opens")
    ws.wait(lambda: ws.attr("status", "data-status") == "open", message="WebSocket opens")
    server.publish("news", {"title": "Published by the API", "body": "POST /api/publish"})
    sse.wait(lambda: items(sse) == ["Published by the API"], message=f"EventSource page: {items(sse)}")
    ws.wait(lambda: items(ws) == ["Published by the API"], message=f"WebSocket page: {items(ws)}")
    # The WebSocket page publishes a headline (raw WS → channel), which both pages receive.
    ws.type("headline", "Posted from the page")
    ws.click("post")
    ws.wait(lambda: items(ws) == ["Posted from the page", "Published by the API"], message=f"WebSocket page: {items(ws)}")
    sse.wait(lambda: items(sse) == ["Posted from the page", "Published by the API"], message=f"EventSource page: {items(sse)}")
    sse.screenshot("news")
    ws.screenshot("news-ws")
    assert sse.errors() == [] and ws.errors() == []


def test_notifications_over_sse_survive_a_server_restart(servers, browser):
    first = servers()
    port = first.port
    browser.open(f"{first.url}/notifications.html")
    browser.wait(lambda: browser.attr("banner", "data-status") == "connected", message="connected over SSE")
    assert "over sse" in browser.text("banner")
    first.publish("notify:inbox", {"title": "Before the restart"})
    browser.wait(lambda: items(browser, "notification") == ["Before the restart"], message="first notification")
    assert browser.errors() == []

    first.stop()
    browser.wait(lambda: browser.attr("banner", "data-status") == "reconnecting", message="page notices the server is gone")
    second = servers(port=port)
    browser.wait(lambda: browser.attr("banner", "data-status") == "connected", timeout=20, message="page reconnects to the new server")
    browser.wait(lambda: browser.text("connects") == "connections: 2", message="a second connection")
    # The in-memory history died with the first process: the client says so (reset) instead of pretending.
    browser.wait(lambda: browser.text("reset-note") is not None, message="reset reported")
    second.publish("notify:inbox", {"title": "After the restart"})
    browser.wait(lambda: items(browser, "notification") == ["After the restart", "Before the restart"], message="notification after the restart")
    browser.screenshot("notifications")
    assert browser.errors(ignore=DOWN) == []


def lab_state(browser):
    return browser.text("state"), browser.text("current-transport")


def echo_ok(browser):
    return browser.text("echo-missing") == "missing 0" and browser.text("echo-duplicates") == "duplicates 0"


def test_connection_lab_falls_back_backs_off_and_recovers(server, browser):
    browser.open(f"{server.url}/lab.html")
    browser.wait(lambda: lab_state(browser) == ("connected", "websocket"), message="lab connects over WebSocket")
    # Block WebSocket and cut: two failed WebSocket attempts, then the client falls back to SSE.
    browser.click("block-ws")
    browser.click("cut")
    browser.wait(lambda: lab_state(browser) == ("connected", "sse"), timeout=20, message=f"fallback to SSE: {lab_state(browser)}")
    # Offline: the backoff timer counts down between attempts; back online, it recovers.
    browser.click("offline")
    browser.wait(lambda: browser.text("state") == "reconnecting" and (browser.text("retry") or "").endswith(" s"), message="backoff countdown")
    received = int(browser.text("echo-received").split()[1])
    browser.click("offline")
    browser.wait(lambda: browser.text("state") == "connected", timeout=20, message="recovers")
    # Echo publishes queued while offline arrive, none lost or doubled.
    browser.wait(lambda: int(browser.text("echo-received").split()[1]) > received + 2, message="echo flows again")
    assert echo_ok(browser), (browser.text("echo-missing"), browser.text("echo-duplicates"))
    # Unblocked, the client's upgrade probe (every 5 s in the lab) moves back to WebSocket.
    browser.click("block-ws")
    browser.wait(lambda: lab_state(browser) == ("connected", "websocket"), timeout=20, message="upgrade back to WebSocket")
    assert echo_ok(browser)
    browser.screenshot("lab")
    log = browser.text("log")
    assert "sse" in log and "reconnecting" in log
    assert browser.errors() == []


def test_connection_lab_through_the_link_fault_proxy(server, browser):
    proxy = subprocess.Popen(
        ["node", str(ROOT / "tools" / "linkfault" / "linkfault.mjs"), "--target", server.url, "--port", "0", "--control-port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        match = re.search(r"listening on (http://\S+) control (http://\S+)", proxy.stdout.readline())
        assert match, "linkfault did not start"
        url, control = match.groups()
        browser.open(f"{url}/lab.html?control={control}")
        browser.wait(lambda: lab_state(browser) == ("connected", "websocket"), message="connects through the proxy")
        browser.click("block-ws")  # the proxy answers upgrades with 403
        browser.click("cut")  # and resets every open connection
        browser.wait(lambda: lab_state(browser) == ("connected", "sse"), timeout=20, message=f"fallback to SSE: {lab_state(browser)}")
        browser.wait(lambda: int(browser.text("echo-received").split()[1]) >= 3, message="echo flows over SSE")
        assert echo_ok(browser)
        # Chromium logs the refused upgrades (403) itself.
        assert browser.errors(ignore=("WebSocket connection to",) + DOWN) == []
    finally:
        proxy.terminate()
        proxy.wait(timeout=10)
        proxy.stdout.close()
        proxy.stderr.close()
