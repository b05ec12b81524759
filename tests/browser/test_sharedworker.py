"""One connection for all tabs in a SharedWorker (`sharedWorker: '/switchboard-worker.js'`, the script served by
the app's origin — here the test web root, through the link-fault proxy): five tabs, one server connection, exact
copies; closing tabs (their pages die: the worker learns it from their Web Locks) does not disturb the others."""
from conftest import Publisher, wait_for_connections, assert_every_page_exact_without_reset

TABS = 5
WORKER = {"sharedWorker": "/switchboard-worker.js", "backoff": {"initialMs": 200, "maxMs": 1000}}


def ready(status):
    return status["status"] == "connected" and status["subscription"] == "subscribed" and status["inWorker"]


def wait_all(pages, condition, what, timeout=30):
    for page in pages:
        page.wait_until(condition, what, timeout)


def test_five_tabs_share_one_connection_in_a_shared_worker_and_closing_tabs_does_not_disturb_the_others(
        hub, proxy, browser, page_url):
    channel = "browser:sharedworker"
    one = {"websocket": 1, "sse": 0, "poll": 0}
    pages = [browser.open(page_url(channel, **WORKER)) for _ in range(TABS)]
    wait_all(pages, ready, "every tab connected through the shared worker and subscribed")
    assert wait_for_connections(hub, one) == one
    assert hub.subscriptions() == 1  # one server subscription for five tabs

    publisher = Publisher(hub, channel).start()
    try:
        wait_all(pages, lambda s: s["count"] >= 20, "publications in every tab")
        for closing in (pages[0], pages[3]):  # the first tab (whose options started the worker's client) too
            browser.close_tab(closing)
            pages.remove(closing)
            closed_at = publisher.published
            wait_all(pages, lambda s: ready(s) and s["last"] >= closed_at + 10, "the other tabs to carry on")
            assert hub.connections() == one
    finally:
        published = publisher.stop()

    assert_every_page_exact_without_reset(pages, published)
    assert hub.connections() == one
    assert hub.subscriptions() == 1
    print(f"{TABS} tabs in a SharedWorker: 1 connection; after closing 2 tabs, {len(pages)} tabs on 1 connection, "
          f"each an exact copy of {published} publications")


def test_a_worker_script_that_does_not_load_falls_back_to_the_tabs_own_connection(hub, proxy, browser, page_url):
    channel = "browser:sharedworker-missing"
    page = browser.open(page_url(channel, sharedWorker="/no-such-worker.js"))
    page.wait_until(lambda s: s["status"] == "connected" and s["subscription"] == "subscribed",
                    "connected on its own after the worker failed")
    assert page.status()["inWorker"] is False
    assert any("shared worker did not start" in line for line in page.log_tail(400)), page.log_tail(400)
    wait_for_connections(hub, {"websocket": 1})
    hub.publish(channel, {"n": 1})
    page.wait_for_last(1)
    assert page.copy() == [1]


def test_a_worker_that_stops_after_it_started_leaves_every_tab_on_its_own_connection_with_an_exact_copy(
        hub, proxy, browser, page_url):
    channel = "browser:sharedworker-crash"
    options = dict(WORKER, sharedWorker="/crashing-worker.js")
    pages = [browser.open(page_url(channel, **options)) for _ in range(3)]
    wait_all(pages, ready, "every tab connected through the shared worker and subscribed")
    assert wait_for_connections(hub, {"websocket": 1}) == {"websocket": 1, "sse": 0, "poll": 0}

    publisher = Publisher(hub, channel).start()
    try:
        wait_all(pages, lambda s: s["count"] >= 20, "publications in every tab")
        # A new port to the same worker (same script and name) tells it to close itself.
        pages[0].run("new SharedWorker('/crashing-worker.js', {name: 'switchboard:' + location.origin})"
                     ".port.postMessage({type: 'crash-for-test'})")
        wait_all(pages, lambda s: s["status"] == "connected" and not s["inWorker"] and s["subscription"] == "subscribed",
                 "every tab on a connection of its own")
        stopped_at = publisher.published
        wait_all(pages, lambda s: s["last"] >= stopped_at + 10, "the tabs to carry on")
    finally:
        published = publisher.stop()

    assert_every_page_exact_without_reset(pages, published)
    assert wait_for_connections(hub, {"websocket": 3}) == {"websocket": 3, "sse": 0, "poll": 0}
    assert any("the shared worker stopped" in line for line in pages[0].log_tail(400)), pages[0].log_tail(400)
    print(f"a SharedWorker stopped mid-stream: 3 tabs fell back to their own connections, each an exact copy of "
          f"{published} publications, 0 resets")
