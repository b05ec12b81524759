"""Runtime transport fallback in Chromium: a proxy that blocks WebSocket, then one that also buffers streams."""
import time

from conftest import Publisher, assert_exact_copy, wait_for_connections

# Shorter than the defaults so that the suite stays fast; the defaults' timing is covered by clients/js unit tests.
FAST = {"backoff": {"initialMs": 200, "maxMs": 1000}, "openTimeoutMs": 2000}


def test_websocket_blocked_by_the_proxy_falls_back_to_sse_with_a_gapless_copy(hub, proxy, browser, page_url):
    channel = "browser:ws-blocked"
    page = browser.open(page_url(channel, **FAST))
    page.wait_connected("websocket")
    publisher = Publisher(hub, channel).start()
    try:
        page.wait_for_more(20, "publications over WebSocket")
        proxy.refuse_websocket(True)
        proxy.cut()
        cut_at = time.monotonic()
        page.wait_connected("sse")
        print(f"WebSocket blocked -> connected over SSE in {time.monotonic() - cut_at:.1f} s")
        page.wait_for_more(20, "publications over SSE")
    finally:
        published = publisher.stop()
    page.wait_for_last(published)

    assert_exact_copy(page.copy(), published)
    status = page.status()
    assert status["connectedOver"] == ["websocket", "sse"]
    assert status["resets"] == 0 and status["stats"]["gapsSeen"] == 0
    assert proxy.stats()["refusedUpgrades"] >= 2  # the client really tried WebSocket again before falling back
    wait_for_connections(hub, {"websocket": 0, "sse": 1, "poll": 0})


def test_streams_buffered_by_the_proxy_fall_back_to_long_polling_with_a_gapless_copy(hub, proxy, browser, page_url):
    channel = "browser:buffered"
    page = browser.open(page_url(channel, **FAST))
    page.wait_connected("websocket")
    publisher = Publisher(hub, channel).start()
    try:
        page.wait_for_more(20, "publications over WebSocket")
        # A bad corporate proxy: no WebSocket, and event streams held until they end (i.e. never delivered live).
        proxy.refuse_websocket(True)
        proxy.buffer_streams(True)
        proxy.cut()
        cut_at = time.monotonic()
        page.wait_connected("poll", timeout=45)
        print(f"WebSocket blocked, streams buffered -> connected over long-polling in {time.monotonic() - cut_at:.1f} s")
        page.wait_for_more(20, "publications over long-polling")
    finally:
        published = publisher.stop()
    page.wait_for_last(published)

    assert_exact_copy(page.copy(), published)
    status = page.status()
    assert status["connectedOver"] == ["websocket", "poll"]
    assert status["resets"] == 0 and status["stats"]["gapsSeen"] == 0
    assert proxy.stats()["bufferedStreams"] >= 2  # SSE was tried through the buffering proxy and given up
    wait_for_connections(hub, {"websocket": 0, "sse": 0, "poll": 1})
