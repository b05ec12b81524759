"""A y-websocket client on pycrdt (the Rust port yrs) and Python `websockets`: an editor independent of Yjs, for the
`/yjs/{room}` tests. Its document's text is the root type "text", as in ywebsocket_clients.mjs."""
from contextlib import ExitStack

from lib0 import decode_state_vector
from pycrdt import Doc, Text, create_sync_message, create_update_message, handle_sync_message
from websockets.sync.client import connect

SYNC, STEP1, STEP2 = 0, 0, 1


class PycrdtClient:
    def __init__(self, url, timeout=30):
        """Connects to `url` (ws://HOST:PORT/yjs/ROOM) and syncs: the document is the server's when this returns."""
        self.timeout = timeout
        self.doc = Doc()
        self.text = self.doc.get("text", type=Text)
        self._stack = ExitStack()
        self.ws = self._stack.enter_context(connect(url, max_size=None, open_timeout=timeout))
        self._applying = False
        self.sync()
        # Every local edit goes to the server as an update message; remote ones applied here are not sent back.
        self.doc.observe(lambda event: None if self._applying else self.ws.send(create_update_message(event.update)))

    def sync(self):
        """Sends a sync step 1 and handles messages until the server's step 2 answers it. With a store the server
        answers only once what the room accepted before is written: the step 2 is the acknowledgement."""
        self.ws.send(create_sync_message(self.doc))
        while True:
            if self._handle(self.ws.recv(timeout=self.timeout)) == STEP2:
                return

    def drain(self, wait=0):
        """Handles the messages that arrived (waiting up to `wait` seconds for the first); returns how many."""
        handled = 0
        while True:
            try:
                message = self.ws.recv(timeout=wait if handled == 0 else 0)
            except TimeoutError:
                return handled
            self._handle(message)
            handled += 1

    def _handle(self, message):
        if message[0] != SYNC:
            return None  # awareness
        self._applying = True
        try:
            reply = handle_sync_message(message[1:], self.doc)
        finally:
            self._applying = False
        if reply is not None:
            self.ws.send(reply)
        return message[1]

    def state_vector(self):
        return state_vector(self.doc)

    def close(self):
        self._stack.close()


def state_vector(doc):
    """A document's state vector as {client: clock} (its encoding's order is not fixed)."""
    return decode_state_vector(doc.get_state())
