"""Acknowledged means durable, over the real process: 100 WebSocket + 100 SSE + 20 long-poll subscribers on 10
channels while publishers send 200 publications/s over HTTP; the hub is stopped at a random moment three times in a
row (SIGKILL, or SIGTERM for a graceful stop) and restarted on the same data directory and port. Every subscriber
resubscribes from the last position it saw. Asserted: 0 lost, 0 duplicated, 0 out of order, 0 resets; every
publication answered 200 is delivered to every subscriber of its channel, at the offset its answer named; a
publication whose request got no answer is delivered to all subscribers or to none (and is in history exactly then).

The moments are drawn from a seeded generator: SWITCHBOARD_CHAOS_SEED=N replays a run; the seed is in every failure.
"""
import asyncio
import os
import random
import signal
import time

import pytest

from engine_support import Hub, Publishers, PollSubscriber, SSESubscriber, WebSocketSubscriber, full_history, wait_until

CHANNELS = [f"room-{index}" for index in range(10)]
RATE = 200
STOPS = 3


def anomalies(subscribers):
    """Totals over all subscribers, for failure messages."""
    return (f"resets {sum(len(s.resets) for s in subscribers)}, epoch changes {sum(len(s.epoch_changes) for s in subscribers)}, "
            f"missing {sum(len(s.missing) for s in subscribers)}, duplicated {sum(s.duplicated for s in subscribers)}, "
            f"out of order {sum(s.out_of_order for s in subscribers)}, errors {[e for s in subscribers for e in s.errors][:5]}")


def make_subscribers():
    subscribers = []
    for index in range(100):
        subscribers.append(WebSocketSubscriber(f"ws-{index}", CHANNELS[index % len(CHANNELS)]))
    for index in range(100):
        subscribers.append(SSESubscriber(f"sse-{index}", CHANNELS[index % len(CHANNELS)]))
    for index in range(20):
        subscribers.append(PollSubscriber(f"poll-{index}", CHANNELS[index % len(CHANNELS)]))
    return subscribers


async def scenario(data_directory, log_path, stop_signal, seed):
    rng = random.Random(seed)
    hub = Hub(data_directory, log_path, settings=[
        # Every publication of the run stays in history, so the final comparison sees all of them.
        "channel_defaults.history_size=1000000", "channel_defaults.history_ttl_seconds=0",
        "shutdown.drain_timeout_ms=2000",
    ])
    await hub.start()
    subscribers = make_subscribers()
    tasks = [asyncio.ensure_future(subscriber.run(hub)) for subscriber in subscribers]
    publishers = Publishers(hub, CHANNELS, RATE, workers=32)
    report = {"seed": seed, "exit_statuses": [], "recovery_seconds": []}
    try:
        await wait_until(
            lambda: all(s.subscribed_generation == 1 for s in subscribers), 120, "every subscriber's first subscription",
            lambda: anomalies(subscribers))
        assert all(s.offset == 0 for s in subscribers), "subscribers start before the first publication"
        publishers.start()
        for _ in range(STOPS):
            # The random moment, drawn from the seeded generator (publishing goes on meanwhile).
            await asyncio.sleep(rng.uniform(0.5, 4.0))
            report["exit_statuses"].append(await hub.stop(stop_signal))
            await hub.start()
            restarted = time.monotonic()
            await wait_until(
                lambda: all(s.subscribed_generation == hub.generation for s in subscribers), 120,
                f"every subscriber to resubscribe after restart {hub.generation - 1} (seed {seed})", lambda: anomalies(subscribers))
            report["recovery_seconds"].append(round(time.monotonic() - restarted, 2))
        await asyncio.sleep(rng.uniform(0.5, 2.0))  # publishing goes on after the last restart
        await publishers.stop()

        epochs = {channel: {s.epoch for s in subscribers if s.channel == channel} for channel in CHANNELS}
        assert all(len(found) == 1 for found in epochs.values()), epochs
        history = {}
        for channel in CHANNELS:
            head, publications = await full_history(hub.address, channel, next(iter(epochs[channel])))
            history[channel] = {publication["offset"]: publication["data"]["p"] for publication in publications}
            assert sorted(history[channel]) == list(range(1, head + 1)), f"{channel}: offsets are 1…{head} without gaps"
        await wait_until(
            lambda: all(s.offset == max(history[s.channel], default=0) for s in subscribers), 120,
            f"every subscriber to catch up with its channel's head (seed {seed})", lambda: anomalies(subscribers))
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await hub.close()
    return hub, subscribers, publishers, history, epochs, report


@pytest.mark.parametrize("stop_signal", [signal.SIGKILL, signal.SIGTERM], ids=["sigkill", "sigterm"])
def test_kill9_recovery(data_directory, tmp_path, stop_signal):
    """Stopped three times under load, by SIGKILL or SIGTERM: every subscriber recovers exactly what it missed."""
    seed = int(os.environ.get("SWITCHBOARD_CHAOS_SEED", random.randrange(1 << 32)))
    hub, subscribers, publishers, history, epochs, report = asyncio.run(
        scenario(data_directory, tmp_path / "switchboard.log", stop_signal, seed))
    context = f"seed {seed}, server log {tmp_path / 'switchboard.log'}"

    expected_status = -signal.SIGKILL if stop_signal == signal.SIGKILL else 0
    assert report["exit_statuses"] == [expected_status] * STOPS, context

    # Per subscriber: 0 lost, 0 duplicated, 0 out of order, 0 resets, and exactly its channel's history.
    for s in subscribers:
        where = f"{s.name} on {s.channel} ({context})"
        assert s.errors == [], where
        assert s.resets == [] and s.epoch_changes == [], where
        assert (len(s.missing), s.duplicated, s.out_of_order) == (0, 0, 0), where
        assert s.recoveries >= STOPS, where
        assert s.received == history[s.channel], where

    # Per publication: answered ones at the offset named in their answer; unanswered ones at most once, in their own
    # channel (and, by the per-subscriber check above, then delivered to every subscriber of it); nothing else.
    assert publishers.refused == {}, context
    stored = {}
    for channel, publications in history.items():
        for offset, number in publications.items():
            assert number not in stored, f"publication {number} stored twice ({context})"
            stored[number] = (channel, offset)
            assert publishers.attempted.get(number) == channel, f"publication {number} in {channel} ({context})"
    for number, (channel, epoch, offset) in publishers.answered.items():
        assert (epoch, stored.get(number)) == (next(iter(epochs[channel])), (channel, offset)), f"answered {number} ({context})"
    assert not publishers.not_sent & stored.keys(), context
    assert set(stored) <= set(publishers.answered) | publishers.unanswered, context

    deliveries = sum(len(s.received) for s in subscribers)
    unanswered_stored = len(publishers.unanswered & stored.keys())
    print(
        f"\n{stop_signal.name}: seed {seed}; {len(publishers.answered)} answered, {len(publishers.unanswered)} unanswered "
        f"({unanswered_stored} of them stored), {len(publishers.not_sent)} not sent while down; {deliveries} deliveries "
        f"checked; {len(publishers.attempted) / publishers.seconds:.0f} publications/s attempted over "
        f"{publishers.seconds:.1f} s; all resubscribed within {report['recovery_seconds']} s of each restart")
