"""The collaborative editor (web/editor.html): two Chromium windows edit one Yjs room through the hub's `/yjs/{room}`
endpoint with the unmodified y-websocket client; each sees the other's text, name and caret, and a reload comes back
with the whole text from the hub."""
import uuid


def editor_text(browser):
    return browser.js("return document.querySelector('[data-testid=editor]').value")


def document_text(browser):
    """The page's Y.Text, which the textarea shows."""
    return browser.js("return window.editorDemo.text.toString()")


def open_editor(browser, server, room, name):
    browser.open(f"{server.url}/editor.html?room={room}&name={name}")
    browser.wait(lambda: browser.attr("status", "data-status") == "connected" and browser.attr("status", "data-synced") == "true",
                 message=f"{name} connects and syncs")


def peers(browser):
    return browser.js("return [...document.querySelectorAll('[data-testid=peer]')].map(e => e.dataset.name).sort()")


def test_two_windows_edit_one_room_and_a_reload_keeps_the_text(server, browsers):
    room = f"docs:{uuid.uuid4().hex[:8]}"
    alice, bob = browsers(), browsers()
    open_editor(alice, server, room, "alice")
    open_editor(bob, server, room, "bob")
    alice.wait(lambda: peers(alice) == ["alice", "bob"], message=f"alice sees bob: {peers(alice)}")
    bob.wait(lambda: peers(bob) == ["alice", "bob"], message=f"bob sees alice: {peers(bob)}")

    # Both type at once: keystrokes go to each window in turn, so the edits interleave on the hub.
    alice_words = [f"alice{i} " for i in range(6)]
    bob_words = [f"bob{i} " for i in range(6)]
    for alice_word, bob_word in zip(alice_words, bob_words):
        alice.type("editor", alice_word)
        bob.type("editor", bob_word)
    # Each window's text converges to the same document, holding every word of both.
    alice.wait(lambda: editor_text(alice) == editor_text(bob) == document_text(alice) == document_text(bob)
               and all(word in editor_text(alice) for word in alice_words + bob_words),
               message=f"alice {editor_text(alice)!r} / bob {editor_text(bob)!r}")
    text = editor_text(alice)
    # Each one's caret is shown to the other, under their name.
    alice.wait(lambda: alice.js("return [...document.querySelectorAll('[data-testid=remote-caret]')].map(e => e.dataset.name)") == ["bob"],
               message="alice sees bob's caret")
    bob.wait(lambda: bob.js("return [...document.querySelectorAll('[data-testid=remote-caret]')].map(e => e.dataset.name)") == ["alice"],
             message="bob sees alice's caret")
    alice.screenshot("editor")

    # Bob loads the page again: it starts from an empty document and gets the whole text from the hub.
    open_editor(bob, server, room, "bob")
    bob.wait(lambda: editor_text(bob) == text, message=f"after the reload: {editor_text(bob)!r}")
    # And editing goes on: bob's next word reaches alice.
    bob.type("editor", "again")
    alice.wait(lambda: editor_text(alice) == editor_text(bob) and "again" in editor_text(alice), message="an edit after the reload")
    assert alice.errors() == [] and bob.errors() == []
