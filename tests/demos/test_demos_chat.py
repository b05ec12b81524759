"""Chat demo: two browsers (two users) with presence, typing, receipts and the offline queue."""


def messages(browser):
    return browser.js(
        "return [...document.querySelectorAll('[data-testid=message]')].map(e => ({"
        "text: e.querySelector('.text').textContent, status: e.dataset.status, receipt: (e.querySelector('[data-testid=receipt]') || {}).textContent || ''}))"
    )


def members(browser):
    return browser.js("return [...document.querySelectorAll('[data-testid=member]')].map(e => e.textContent)")


def send(browser, text):
    browser.type("compose", text)
    browser.click("send")


def test_two_users_chat_with_typing_presence_receipts_and_offline_queue(server, browsers):
    alice, bob = browsers(), browsers()
    # Demo mode: each page gets a token for its name from POST /demo/token.
    alice.open(f"{server.url}/chat.html?name=alice")
    bob.open(f"{server.url}/chat.html?name=bob")
    for browser in (alice, bob):
        browser.wait(lambda b=browser: b.attr("banner", "data-status") == "connected", message="chat connects")
    # Presence: each sees both users, itself marked.
    alice.wait(lambda: sorted(members(alice)) == ["alice (you)", "bob"], message=f"alice's presence: {members(alice)}")
    bob.wait(lambda: sorted(members(bob)) == ["alice", "bob (you)"], message=f"bob's presence: {members(bob)}")

    # Typing indicator: bob types, alice sees it.
    bob.type("compose", "hel")
    alice.wait(lambda: alice.text("typing") == "bob is typing…", message="typing indicator")

    # Optimistic send and receipts: alice's message reaches bob, whose visible page reads it.
    send(alice, "hi bob")
    bob.wait(lambda: any(m["text"] == "hi bob" for m in messages(bob)), message="bob receives alice's message")
    alice.wait(lambda: [m["status"] for m in messages(alice) if m["text"] == "hi bob"] == ["read"], message=f"receipt: {messages(alice)}")
    assert [m["receipt"] for m in messages(alice) if m["text"] == "hi bob"] == ["✓✓ read by bob"]
    alice.screenshot("chat")

    # Offline queue: sent while disconnected, shown as queued, delivered exactly once after reconnecting.
    alice.click("offline")
    alice.wait(lambda: alice.attr("banner", "data-status") == "disconnected", message="alice goes offline")
    send(alice, "sent while offline")
    alice.wait(lambda: [m["status"] for m in messages(alice) if m["text"] == "sent while offline"] == ["pending"], message="queued")
    assert "queued" in [m["receipt"] for m in messages(alice) if m["text"] == "sent while offline"][0]
    alice.click("offline")
    alice.wait(lambda: alice.attr("banner", "data-status") == "connected", message="alice is back")
    bob.wait(lambda: any(m["text"] == "sent while offline" for m in messages(bob)), message="bob gets the queued message")
    alice.wait(lambda: [m["status"] for m in messages(alice) if m["text"] == "sent while offline"] == ["read"], message="queued one is read")
    # Exactly once on both sides (the client's idempotent publish; the page's optimistic copy is replaced).
    assert [m["text"] for m in messages(bob)].count("sent while offline") == 1
    assert [m["text"] for m in messages(alice)].count("sent while offline") == 1
    bob.screenshot("chat-bob")
    assert alice.errors() == [] and bob.errors() == []


def test_anonymous_tabs_get_seen_marks_instead_of_server_receipts(server, browsers):
    one, two = browsers(), browsers()
    one.open(f"{server.url}/chat.html?name=ann&room=random&anonymous")
    two.open(f"{server.url}/chat.html?name=ben&room=random&anonymous")
    for browser in (one, two):
        browser.wait(lambda b=browser: b.attr("banner", "data-status") == "connected", message="chat connects")
    one.wait(lambda: sorted(members(one)) == ["ann (you)", "ben"], message=f"presence by name: {members(one)}")
    send(one, "anyone here?")
    two.wait(lambda: any(m["text"] == "anyone here?" for m in messages(two)), message="ben receives it")
    one.wait(lambda: [m["receipt"] for m in messages(one) if m["text"] == "anyone here?"] == ["✓✓ read by ben"], message=f"seen mark: {messages(one)}")
    assert one.errors() == [] and two.errors() == []


def test_a_new_tab_shows_the_recent_messages_and_loads_earlier_ones(server, browsers):
    for n in range(1, 61):
        server.publish("chat:dev", {"id": f"h{n}", "text": f"earlier {n}", "name": "carol", "ts": 0})
    reader = browsers()
    reader.open(f"{server.url}/chat.html?name=dave&room=dev")
    reader.wait(lambda: reader.attr("banner", "data-status") == "connected", message="chat connects")
    texts = lambda: [m["text"] for m in messages(reader)]
    # The newest history page (50), then the rest on demand, in order and once each.
    reader.wait(lambda: texts() == [f"earlier {n}" for n in range(11, 61)], message=f"the newest 50: {texts()[:3]}…")
    reader.click("load-earlier")
    reader.wait(lambda: texts() == [f"earlier {n}" for n in range(1, 61)], message=f"all 60: {len(texts())}")
    reader.wait(lambda: reader.js("return document.querySelector('[data-testid=load-earlier]') === null"), message="nothing more to load")
    # A live message follows the history.
    server.publish("chat:dev", {"id": "live1", "text": "live one", "name": "carol", "ts": 0})
    reader.wait(lambda: texts()[-1] == "live one" and texts().count("live one") == 1, message="the live message after the history")
    assert reader.errors() == []
