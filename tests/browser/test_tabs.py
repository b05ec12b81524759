"""One connection for all tabs (shareAcrossTabs): ten tabs of one origin, one server connection, leader hand-over."""
import pytest

from conftest import Publisher, wait_for_connections, assert_every_page_exact_without_reset

TABS = 10
SHARED = {"shareAcrossTabs": True, "backoff": {"initialMs": 200, "maxMs": 1000}}


def wait_all(pages, condition, what, timeout=30):
    for page in pages:
        page.wait_until(condition, what, timeout)


def ready(status):
    return status["status"] == "connected" and status["subscription"] == "subscribed"


# Over SSE this also lifts the browser's limit of 6 connections per host (HTTP/1.1): 10 unshared SSE tabs could not
# all be connected at once.
@pytest.mark.parametrize("transport", ["websocket", "sse"])
def test_ten_tabs_share_one_server_connection_and_a_new_leader_takes_over_when_the_leader_closes(
        hub, proxy, browser, page_url, transport):
    channel = f"browser:tabs-{transport}"
    one = {"websocket": 0, "sse": 0, "poll": 0, transport: 1}
    pages = [browser.open(page_url(channel, transports=[transport], **SHARED)) for _ in range(TABS)]
    wait_all(pages, ready, "every tab connected and subscribed")
    assert sum(page.status()["leader"] for page in pages) == 1
    assert wait_for_connections(hub, one) == one
    assert hub.subscriptions() == 1  # one server subscription for ten tabs

    publisher = Publisher(hub, channel).start()
    try:
        for handover in range(2):
            wait_all(pages, lambda s: s["count"] >= 20 * (handover + 1), "publications in every tab")
            [leader] = [page for page in pages if page.status()["leader"]]
            browser.close_tab(leader)  # the Web Lock is released; the next waiting tab takes over
            pages.remove(leader)
            closed_at = publisher.published
            wait_all(pages, lambda s: ready(s) and s["last"] >= closed_at + 10, "the tabs to carry on after the hand-over")
            assert sum(page.status()["leader"] for page in pages) == 1
            wait_for_connections(hub, one)
    finally:
        published = publisher.stop()

    assert_every_page_exact_without_reset(pages, published)
    assert hub.subscriptions() == 1
    print(f"{TABS} tabs over {transport}: 1 connection; after 2 hand-overs {len(pages)} tabs, 1 connection, "
          f"each an exact copy of {published} publications")


def test_shared_tabs_keep_exact_copies_while_the_leader_is_cut_off_and_falls_back_to_sse(hub, proxy, browser, page_url):
    channel = "browser:tabs-faults"
    pages = [browser.open(page_url(channel, **SHARED, openTimeoutMs=2000)) for _ in range(3)]
    wait_all(pages, ready, "every tab connected and subscribed")
    publisher = Publisher(hub, channel).start()
    try:
        wait_all(pages, lambda s: s["count"] >= 20, "publications in every tab")
        proxy.cut()  # the leader's connection drops: every tab recovers through the leader's reconnect
        wait_all(pages, lambda s: s["count"] >= 40, "publications after the cut")
        proxy.refuse_websocket(True)
        proxy.cut()
        wait_for_connections(hub, {"websocket": 0, "sse": 1, "poll": 0}, timeout=30)
        wait_all(pages, lambda s: ready(s) and s["count"] >= 60, "publications after falling back to SSE")
    finally:
        published = publisher.stop()

    assert_every_page_exact_without_reset(pages, published)
    assert sum(page.status()["leader"] for page in pages) == 1
