// Collaborative editor: a <textarea> bound to a Y.Text in a room of the hub's `/yjs/{room}` endpoint (docs/yjs.md),
// through the unmodified y-websocket client and Debian's Yjs. Everyone in the room is listed with their caret, and
// the text below the editor shows the others' carets where they are. `?room=docs:NAME` picks the room (a namespace
// with `yjs: true`; demo mode configures `docs`), `?name=` the name shown to the others.
import * as Y from 'yjs';
import { WebsocketProvider } from 'y-websocket';
import { bindTextarea } from './textarea-binding.js';

const params = new URLSearchParams(location.search);
const room = params.get('room') || 'docs:demo';
const name = params.get('name') || `guest-${Math.floor(Math.random() * 9000 + 1000)}`;
const colors = ['#2563eb', '#db2777', '#16a34a', '#ea580c', '#7c3aed', '#0891b2'];
const color = colors[Math.floor(Math.random() * colors.length)];

const status = document.getElementById('status');
const textarea = document.getElementById('editor');
const peers = document.getElementById('peers');
const preview = document.getElementById('preview');
document.getElementById('room').textContent = room;
document.getElementById('me').textContent = name;

const doc = new Y.Doc();
const text = doc.getText('text');
const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/yjs`;
// Each tab is its own editor over the hub: no BroadcastChannel shortcut between tabs of one browser.
const provider = new WebsocketProvider(url, room, doc, { disableBc: true });
const awareness = provider.awareness;
awareness.setLocalStateField('user', { name, color });
bindTextarea(text, textarea);

function showStatus() {
  const state = provider.wsconnected ? 'connected' : provider.wsconnecting ? 'connecting' : 'disconnected';
  status.dataset.status = state;
  status.dataset.synced = String(provider.synced);
  status.textContent = state + (provider.wsconnected && provider.synced ? ', synced' : '');
  textarea.disabled = false;
}
provider.on('status', showStatus);
provider.on('sync', showStatus);
showStatus();

// The local caret, as positions relative to the text's items, so it stays put while others edit.
function shareCaret() {
  const position = (offset) => Y.relativePositionToJSON(Y.createRelativePositionFromTypeIndex(text, offset));
  awareness.setLocalStateField('cursor', { anchor: position(textarea.selectionStart), head: position(textarea.selectionEnd) });
}
for (const event of ['select', 'keyup', 'mouseup', 'input', 'focus']) textarea.addEventListener(event, shareCaret);
document.addEventListener('selectionchange', () => document.activeElement === textarea && shareCaret());

function caretOf(state) {
  if (!state.cursor) return null;
  const absolute = Y.createAbsolutePositionFromRelativePosition(Y.createRelativePositionFromJSON(state.cursor.head), doc);
  return absolute && absolute.type === text ? absolute.index : null;
}

function showPeers() {
  const others = [];
  peers.replaceChildren();
  for (const [clientID, state] of awareness.getStates()) {
    if (!state.user) continue;
    const caret = caretOf(state);
    const item = document.createElement('li');
    item.dataset.testid = 'peer';
    item.dataset.name = state.user.name;
    const swatch = document.createElement('span');
    swatch.className = 'swatch';
    swatch.style.background = state.user.color;
    item.append(swatch, `${state.user.name}${clientID === doc.clientID ? ' (you)' : ''}`);
    if (caret !== null) item.append(` · at ${caret}`);
    peers.append(item);
    if (clientID !== doc.clientID && caret !== null) others.push({ caret, ...state.user });
  }
  // The text with the others' carets in it (a textarea cannot show them itself).
  const content = text.toString();
  const pieces = [];
  let from = 0;
  for (const other of others.sort((a, b) => a.caret - b.caret)) {
    pieces.push(document.createTextNode(content.slice(from, other.caret)));
    const caret = document.createElement('span');
    caret.className = 'caret';
    caret.dataset.testid = 'remote-caret';
    caret.dataset.name = other.name;
    caret.style.borderColor = other.color;
    const label = document.createElement('span');
    label.textContent = other.name;
    label.style.background = other.color;
    caret.append(label);
    pieces.push(caret);
    from = other.caret;
  }
  pieces.push(document.createTextNode(content.slice(from)));
  preview.replaceChildren(...pieces);
}
awareness.on('change', showPeers);
text.observe(showPeers);
showPeers();

// For the browser tests: the document's state as the page holds it.
window.editorDemo = { doc, text, provider };
