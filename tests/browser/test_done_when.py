"""Issue 4's "Done when", in one page: an exact, gapless copy of a channel while the link is cut, WebSocket is
blocked and streams are buffered in turn (forcing transport switches), and back to WebSocket when the faults clear.
(The reset after a hub restart and the ten tabs on one connection are test_recovery.py and test_tabs.py.)"""
from conftest import Publisher, assert_exact_copy, wait_for_connections

OPTIONS = {"backoff": {"initialMs": 200, "maxMs": 1000}, "openTimeoutMs": 2000, "upgradeProbeMs": 2000}


def test_one_page_keeps_an_exact_copy_through_cuts_a_websocket_block_and_buffered_streams(hub, proxy, browser, page_url):
    channel = "browser:done-when"
    page = browser.open(page_url(channel, **OPTIONS))
    page.wait_connected("websocket")
    publisher = Publisher(hub, channel).start()
    phases = [
        ("link cut", lambda: None, "websocket"),
        ("WebSocket blocked", lambda: proxy.refuse_websocket(True), "sse"),
        ("streams buffered", lambda: proxy.buffer_streams(True), "poll"),
    ]
    try:
        for name, fault, transport in phases:
            page.wait_for_more(20, f"publications before: {name}")
            fault()
            proxy.cut()
            page.wait_until(lambda s: s["status"] == "connected" and s["transport"] == transport
                            and len(s["connectedOver"]) >= 2 and s["connectedOver"][-1] == transport
                            and s["subscription"] == "subscribed", f"connected over {transport} after: {name}", 45)
            page.wait_for_more(20, f"publications over {transport}")
        # The faults clear: the client's upgrade probe finds WebSocket usable again and moves back to it.
        proxy.refuse_websocket(False)
        proxy.buffer_streams(False)
        page.wait_connected("websocket", timeout=30)
        page.wait_for_more(20, "publications back on WebSocket")
    finally:
        published = publisher.stop()
    page.wait_for_last(published)

    verdict = assert_exact_copy(page.copy(), published)
    status = page.status()
    print(f"done-when: {verdict['received']} publications, 0 lost, 0 duplicated, connected over "
          f"{status['connectedOver']}, stats {status['stats']}")
    assert status["connectedOver"] == ["websocket", "websocket", "sse", "poll", "websocket"]
    assert status["resets"] == 0 and status["stats"]["gapsSeen"] == 0
    wait_for_connections(hub, {"websocket": 1, "sse": 0, "poll": 0})
