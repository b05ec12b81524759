"""Stock ticker demo: a burst of 1,000 updates/s over 500 symbols ends in exactly the last published price of every
symbol, with only the rows in view rendered; the same under a max rate. Frame and long-task figures are recorded
(artifacts/demos/ticker-figures.json) for docs/benchmarks.md, not asserted."""
import json
import random
import time

from demo_support import ARTIFACTS

SYMBOLS = [f"S{index:03d}" for index in range(1, 501)]


def burst(server, seconds=2.0, rate=1000, seed=1):
    """Publishes `rate` updates/s for `seconds` through the HTTP API (batches every 50 ms); returns the last prices."""
    rng = random.Random(seed)
    last = {}
    per_tick = rate // 20
    cursor = 0
    start = time.monotonic()
    for tick in range(int(seconds * 20)):
        publications = []
        for _ in range(per_tick):
            symbol = SYMBOLS[cursor % len(SYMBOLS)]
            cursor += 1
            price = round(rng.uniform(10, 500), 2)
            last[symbol] = price
            publications.append({"channel": "ticker:prices", "key": symbol, "data": {"symbol": symbol, "price": price, "ts": int(time.time() * 1000)}})
        results = server.publish_batch(publications)["results"]
        assert all("offset" in result for result in results), results[:3]
        # Pacing of the load generator (not a synchronisation): keep to `rate` per second.
        delay = start + (tick + 1) / 20 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    return last


def window_figures(browser, before):
    """The page's counters over the window since `before` (a meter() snapshot with `at`, performance.now())."""
    now = browser.js("return {...window.tickerDemo.meter(), at: performance.now()}")
    seconds = (now["at"] - before["at"]) / 1000
    figures = {name: now[name] - before[name] for name in ("updates", "renders", "rowRenders", "frames", "longTasks", "longTaskMs")}
    return {"seconds": round(seconds, 2), "framesPerSecond": round(figures["frames"] / seconds, 1), **figures}


def meter(browser):
    return browser.js("return {...window.tickerDemo.meter(), at: performance.now()}")


def rendered(browser):
    return browser.js("return [...document.querySelectorAll('[data-testid=row]')].map(e => [e.dataset.symbol, Number(e.dataset.price)])")


def test_ticker_shows_the_servers_simulated_feed(server, browser):
    browser.open(f"{server.url}/ticker.html")  # demo mode: the server publishes 1,000 prices/s itself
    browser.wait(lambda: browser.js("return window.tickerDemo.book.symbols.length") == 500, message="500 symbols from the simulator")
    browser.wait(lambda: int(browser.text("update-rate")) > 200 and int(browser.text("render-rate")) > 0, message="live rates")
    assert len(rendered(browser)) <= 40
    browser.screenshot("ticker-demo-feed")
    assert browser.errors() == []


def test_ticker_ends_in_the_last_price_of_every_symbol_with_a_bounded_table(servers, browser):
    # Not in demo mode: this test is the only publisher, so it knows every symbol's last price.
    server = servers(demo=False, extra=["--set", "namespaces.ticker.conflation=true"])
    browser.open(f"{server.url}/ticker.html")
    browser.wait(lambda: "subscribed" in (browser.text("feed-status") or ""), message="ticker subscribes")
    figures = {}

    before = meter(browser)
    expected = burst(server, seed=1)
    browser.wait(lambda: browser.js("return window.tickerDemo.prices()") == expected, timeout=30, message="all 500 final prices")
    figures["unlimited"] = window_figures(browser, before)
    rows = rendered(browser)
    assert 15 <= len(rows) <= 40, f"virtualized table renders only the rows in view, got {len(rows)}"
    assert all(expected[symbol] == price for symbol, price in rows)
    browser.screenshot("ticker")

    # Scrolling to the end renders the last rows (and still only about a screenful).
    browser.js("document.querySelector('[data-testid=table]').scrollTop = 1e6")
    browser.wait(lambda: any(symbol == "S500" for symbol, _ in rendered(browser)), message="S500 after scrolling")
    rows = rendered(browser)
    assert len(rows) <= 40 and all(expected[symbol] == price for symbol, price in rows)

    # A max rate: a new subscription with maxRate 1. Held publications of a symbol are replaced by its newer price
    # (conflation), so fewer arrive, and the table still ends in the latest price of every symbol. (At 5/s a slot holds
    # 200 updates of 200 different symbols: nothing to replace with this round-robin feed.)
    browser.js("window.tickerDemo.setMaxRate(1)")
    browser.wait(lambda: "subscribed" in (browser.text("feed-status") or "") and browser.attr("feed-status", "data-rate") == "1", message="resubscribed at 1/s")
    before = meter(browser)
    expected = burst(server, seed=2)
    browser.wait(lambda: browser.js("return window.tickerDemo.prices()") == expected, timeout=40, message="final prices at max rate 1")
    figures["maxRate1"] = window_figures(browser, before)
    received = figures["maxRate1"]["updates"]
    assert received < 2000, f"max rate 1 with conflation should skip superseded prices, received {received} of 2000"
    assert browser.errors() == []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "ticker-figures.json").write_text(json.dumps(figures, indent=2))
    print("ticker figures:", json.dumps(figures))
