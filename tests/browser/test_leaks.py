"""No timer or listener left behind by 1,000 subscribe/unsubscribe cycles, nor by close(); no server subscription
left behind either. instrument.js (loaded before the bundle) counts live timers and event listeners in the page."""
import pytest

from conftest import wait_for_connections

CYCLES = 1000

# Runs in the page: connect, then 1,000 cycles over 10 channels. Most cycles wait for `subscribed` before
# unsubscribing; every fourth adds a second listener on the same channel (ref-counted: one server subscription);
# every tenth unsubscribes before the server has answered.
CYCLE_SCRIPT = """
const [cycles, done] = [arguments[0], arguments[arguments.length - 1]];
const client = window.sb.client;
const whenState = (wanted, get, on) => new Promise((resolve) => {
  if (get() === wanted) return resolve();
  const off = on((state) => { if (state === wanted) { off(); resolve(); } });
});
(async () => {
  await whenState('connected', () => client.state.status, (f) => client.on('state', (s) => f(s.status)));
  const before = window.__leaks.snapshot();
  const started = performance.now();
  for (let i = 0; i < cycles; i++) {
    const channel = 'browser:leak-' + (i % 10);
    let notify = () => {};
    const first = client.subscribe(channel, { onPublication: () => {}, onState: (state) => notify(state) });
    const second = i % 4 === 0 ? client.subscribe(channel, { onPublication: () => {} }) : null;
    if (i % 10 !== 9) {
      await new Promise((resolve, reject) => {
        notify = (state) => state === 'subscribed' ? resolve() : state === 'failed' ? reject(new Error('subscribe failed')) : 0;
        notify(first.state);
      });
    }
    first.unsubscribe();
    if (second) second.unsubscribe();
  }
  const elapsedMs = performance.now() - started;
  done({ before, after: window.__leaks.snapshot(), elapsedMs, state: client.state.status });
})().catch((error) => done({ error: String(error) }));
"""


@pytest.mark.parametrize("mode", ["websocket", "poll", "shared"])
def test_a_thousand_subscribe_unsubscribe_cycles_leave_no_timer_listener_or_server_subscription(
        hub, proxy, browser, page_url, mode):
    options = {"shareAcrossTabs": True} if mode == "shared" else {"transports": [mode]}
    page = browser.open(page_url("unused", manual=True, debug=False, **options))
    baseline = page.run("return window.__leaks.snapshot()")
    server_subscriptions_at_start = hub.subscriptions()
    page.run("window.sb.createClient()")

    result = page.run_async(CYCLE_SCRIPT, CYCLES, timeout=120)
    assert "error" not in result, result
    before, after = result["before"], result["after"]
    print(f"{mode}: {CYCLES} cycles in {result['elapsedMs']:.0f} ms; live timers {before['timers']} -> {after['timers']}, "
          f"listeners {before['listeners']} -> {after['listeners']} (baseline {baseline})")
    # While connected: nothing grew (a timer may have fired and not been re-armed, e.g. the stable-connection timer).
    assert after["timers"] <= before["timers"]
    assert after["listeners"] <= before["listeners"], after["listenersByType"]
    # The hub is back to its start: every server subscription was undone.
    page.wait_until(lambda _: hub.subscriptions() == server_subscriptions_at_start,
                    f"the hub's switchboard_subscriptions back to {server_subscriptions_at_start}")

    page.run("window.sb.client.close()")
    page.wait_until(lambda _: page.run("return window.__leaks.snapshot()")["timers"] == baseline["timers"],
                    "no timer left after close()", timeout=10)
    closed = page.run("return window.__leaks.snapshot()")
    assert closed["listeners"] == baseline["listeners"], (closed["listenersByType"], baseline["listenersByType"])
    wait_for_connections(hub, {"websocket": 0, "sse": 0, "poll": 0})
