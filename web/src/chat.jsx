// Chat demo: rooms, optimistic send, delivery and read receipts, typing indicators, presence, offline queue and a
// reconnect banner, all with the React bindings' hooks.
//
// Users: on a server in demo mode (`switchboard serve --demo`, what `make run` starts) the page gets a token for the
// chosen name from `POST /demo/token`, so presence, typing and receipts name users and receipts are the server's
// (protocol.md §4.11): the client acknowledges delivery itself, the page marks messages read while it is visible. A
// token in the page address (chat.html#token=JWT, e.g. from `switchboard token --sub alice`) works on any server
// with token keys. Otherwise (no demo mode, or chat.html?anonymous) the chat runs anonymously: the server cannot
// attribute receipts to anonymous sessions, so the page falls back to "seen" marks sent as signals (§4.8).
import { StrictMode, useEffect, useMemo, useRef, useState } from 'react';
import { createRoot } from 'react-dom/client';
import {
  SwitchboardProvider,
  useChannel,
  useConnectionState,
  useHistory,
  usePresence,
  useReceipts,
  usePublish,
  useSignal,
  useSwitchboardClient,
  useTyping,
} from '@switchboard/react';
import { ConnectionBanner, Header, HUB_URL } from './common.jsx';

const ROOMS = ['lobby', 'random', 'dev'];
/** Identifies this tab's messages (a user may chat from several tabs). */
const TAB = typeof crypto.randomUUID === 'function' ? crypto.randomUUID() : String(Math.random()).slice(2);
const newId = () => (typeof crypto.randomUUID === 'function' ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`);

function tokenFromAddress() {
  return new URLSearchParams(location.hash.slice(1)).get('token');
}

function subOf(token) {
  try {
    const payload = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(payload)).sub || null;
  } catch {
    return null;
  }
}

/** A demo-mode token for `name`, or null when the server offers none (not in demo mode). */
async function demoToken(name) {
  try {
    const response = await fetch('/demo/token', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sub: name }),
    });
    return response.ok ? (await response.json()).token : null;
  } catch {
    return null;
  }
}

/** Demo tokens take 1–64 letters, digits, _ - . */
const cleanName = (text) => text.trim().replace(/[^A-Za-z0-9_.-]+/g, '-').slice(0, 64);

function App() {
  const addressToken = useMemo(tokenFromAddress, []);
  const params = new URLSearchParams(location.search);
  const [name, setName] = useState(() =>
    addressToken ? subOf(addressToken) : params.get('name') ? cleanName(params.get('name')) : sessionStorage.getItem('chat-name'),
  );
  const [draft, setDraft] = useState(() => `guest-${Math.floor(Math.random() * 9000 + 1000)}`);
  const [mode, setMode] = useState(null); // 'address' (token in the URL) | 'demo' | 'anonymous'
  useEffect(() => {
    if (!name || mode) return;
    if (addressToken) setMode('address');
    else if (params.has('anonymous')) setMode('anonymous');
    else demoToken(name).then((token) => setMode(token ? 'demo' : 'anonymous'));
  }, [name]); // eslint-disable-line react-hooks/exhaustive-deps
  if (!name) {
    return (
      <>
        <Header title="Chat" hint="pick a name to join" />
        <main>
          <form
            className="card row"
            onSubmit={(event) => {
              event.preventDefault();
              const chosen = cleanName(draft);
              if (!chosen) return;
              sessionStorage.setItem('chat-name', chosen);
              setName(chosen);
            }}
          >
            <label>
              Your name <input type="text" value={draft} onChange={(event) => setDraft(event.target.value)} data-testid="name" />
            </label>
            <button type="submit">Join</button>
            <span className="muted">Open the chat in a second window with another name to talk to yourself.</span>
          </form>
        </main>
      </>
    );
  }
  if (!mode) return <Header title="Chat" hint={`joining as ${name}…`} />;
  const user = mode === 'address' ? subOf(addressToken) : mode === 'demo' ? name : null;
  const options = {
    ...(mode === 'address' ? { token: addressToken } : {}),
    info: { name },
    backoff: { initialMs: 300, maxMs: 5000, factor: 2 },
    // Each tab is its own user here (two names in two tabs): no connection shared across the origin's tabs.
    shareAcrossTabs: false,
  };
  // Demo tokens last an hour: the client asks again (getToken) before expiry and after a refusal.
  return (
    <SwitchboardProvider url={HUB_URL} options={options} getToken={mode === 'demo' ? () => demoToken(name) : undefined}>
      <Chat name={name} user={user} />
    </SwitchboardProvider>
  );
}

function Chat({ name, user }) {
  const client = useSwitchboardClient();
  const state = useConnectionState();
  const [room, setRoom] = useState(() => new URLSearchParams(location.search).get('room') ?? ROOMS[0]);
  const [offline, setOffline] = useState(false);
  useEffect(() => {
    window.chatDemo = { client, room, name, user };
  }, [client, room, name, user]);
  return (
    <>
      <Header title="Chat" hint={`${name}${user ? ' (signed in with a token)' : ' (anonymous)'}`} />
      <ConnectionBanner offlineNote="Messages you send now are queued and go out once, when the connection is back." />
      <main className="chat">
        <nav className="rooms card">
          <div className="muted">Rooms</div>
          {ROOMS.map((candidate) => (
            <button key={candidate} className={candidate === room ? 'on' : ''} onClick={() => setRoom(candidate)} data-testid={`room-${candidate}`}>
              # {candidate}
            </button>
          ))}
          <hr />
          <button
            data-testid="offline"
            onClick={() => {
              if (offline) client.connect();
              else client.disconnect();
              setOffline(!offline);
            }}
          >
            {offline ? 'Go online' : 'Go offline'}
          </button>
          <p className="muted">
            {state.status === 'connected' ? `client ${state.clientId.slice(0, 8)}` : state.status}
          </p>
        </nav>
        <Room key={room} channel={`chat:${room}`} name={name} receiptsFromServer={user !== null} />
      </main>
    </>
  );
}

/** Read receipts need the page to be seen: mark while visible, and on becoming visible. */
function useVisible() {
  const [visible, setVisible] = useState(document.visibilityState === 'visible');
  useEffect(() => {
    const update = () => setVisible(document.visibilityState === 'visible');
    document.addEventListener('visibilitychange', update);
    return () => document.removeEventListener('visibilitychange', update);
  }, []);
  return visible;
}

function Room({ channel, name, receiptsFromServer }) {
  const state = useConnectionState();
  const visible = useVisible();
  const myClient = state.status === 'connected' ? state.clientId : null;
  const publish = usePublish(channel);
  const presence = usePresence(channel);
  const { typing, startTyping, stopTyping } = useTyping(channel);
  const { publications: live } = useChannel(channel, { limit: 500 });
  // A new tab shows the room's recent messages: the newest history page, earlier ones on demand. The live
  // subscription starts at the position it subscribed at, so the two may overlap: one copy per offset.
  const earlier = useHistory(channel, { pageSize: 50 });
  const publications = useMemo(() => {
    const byOffset = new Map();
    for (const publication of [...earlier.publications, ...live]) byOffset.set(publication.offset, publication);
    return [...byOffset.values()].sort((a, b) => a.offset - b.offset);
  }, [earlier.publications, live]);
  const [pending, setPending] = useState([]); // optimistic: shown before the hub stored them
  const [text, setText] = useState('');
  const [seen, setSeen] = useState({}); // client → {from, delivered, read} (anonymous "seen" marks)
  const marks = useRef({ from: null, delivered: 0, read: 0, sent: '' });
  const readUpTo = useRef(0);

  // Server receipts of our own messages (pushes folded into records by the hook) and read marks for others'.
  const { records, markRead } = useReceipts(channel);

  const sendSeen = useSignal(channel, (signal) => {
    if (signal.type !== 'seen' || signal.client === myClient) return;
    setSeen((all) => ({ ...all, [signal.client]: signal.data }));
  });

  // Delivery and reading of other people's messages.
  const others = publications.filter((publication) => publication.data?.tab !== TAB);
  const newest = others.length ? others[others.length - 1].offset : 0;
  useEffect(() => {
    if (newest === 0) return;
    const mark = marks.current;
    if (mark.from === null) mark.from = others[0].offset;
    mark.delivered = newest;
    if (visible) mark.read = newest;
    if (receiptsFromServer) {
      if (visible) {
        for (const publication of others) {
          if (publication.receipts && publication.offset > readUpTo.current) markRead(publication.offset).catch(() => {});
        }
        readUpTo.current = newest;
      }
    } else {
      const payload = JSON.stringify([mark.from, mark.delivered, mark.read]);
      if (payload !== mark.sent && state.status === 'connected') {
        mark.sent = payload;
        sendSeen('seen', { from: mark.from, delivered: mark.delivered, read: mark.read }).catch(() => (mark.sent = ''));
      }
    }
  }, [newest, visible, state.status]); // eslint-disable-line react-hooks/exhaustive-deps

  const nameOf = (clientId, user) => {
    const member = presence?.members.find((candidate) => candidate.client === clientId);
    return user ?? member?.user ?? member?.info?.name ?? clientId.slice(0, 6);
  };

  const receiptOf = (offset) => {
    if (receiptsFromServer) {
      const recipients = records.get(offset)?.recipients ?? [];
      return {
        delivered: recipients.filter((recipient) => recipient.delivered).map((recipient) => recipient.user),
        read: recipients.filter((recipient) => recipient.read).map((recipient) => recipient.user),
      };
    }
    const delivered = [];
    const read = [];
    for (const [clientId, mark] of Object.entries(seen)) {
      if (mark.from === null || offset < mark.from) continue;
      if (offset <= mark.delivered) delivered.push(nameOf(clientId));
      if (offset <= mark.read) read.push(nameOf(clientId));
    }
    return { delivered, read };
  };

  const send = (event) => {
    event.preventDefault();
    const body = text.trim();
    if (!body) return;
    const message = { id: newId(), text: body, name, tab: TAB, ts: Date.now() };
    setPending((list) => [...list, { ...message, failed: null }]);
    setText('');
    stopTyping();
    publish(message, receiptsFromServer ? { receipts: true } : undefined).catch((error) =>
      setPending((list) => list.map((item) => (item.id === message.id ? { ...item, failed: String(error.message ?? error) } : item))),
    );
  };

  const stored = new Set(publications.map((publication) => publication.data?.id));
  const waiting = pending.filter((item) => !stored.has(item.id));
  const list = useRef(null);
  useEffect(() => {
    if (list.current) list.current.scrollTop = list.current.scrollHeight;
    // On a new newest message, not when earlier ones are loaded above.
  }, [publications[publications.length - 1]?.offset, waiting.length]); // eslint-disable-line react-hooks/exhaustive-deps

  const typists = typing.map((member) => nameOf(member.client, member.user));
  const people = new Map();
  for (const member of presence?.members ?? []) {
    const who = nameOf(member.client, member.user);
    people.set(who, (people.get(who) ?? 0) + 1 + (member.client === myClient ? 1000 : 0));
  }

  return (
    <>
      <section className="log card">
        <div className="messages" ref={list} data-testid="messages">
          {earlier.hasMore && earlier.publications.length > 0 ? (
            <button className="earlier" onClick={earlier.loadEarlier} disabled={earlier.loading} data-testid="load-earlier">
              {earlier.loading ? 'loading…' : 'Load earlier messages'}
            </button>
          ) : null}
          {publications.map(({ offset, data }) => {
            if (!data || typeof data.text !== 'string') return null;
            const mine = data.tab === TAB;
            const receipt = mine ? receiptOf(offset) : null;
            const status = !mine ? null : receipt.read.length ? 'read' : receipt.delivered.length ? 'delivered' : 'sent';
            return (
              <div key={data.id ?? offset} className={`msg${mine ? ' mine' : ''}`} data-testid="message" data-id={data.id} data-status={status ?? ''}>
                <div className="meta">
                  {mine ? 'you' : data.name} · {new Date(data.ts).toLocaleTimeString()} · #{offset}
                </div>
                <div className="text">{data.text}</div>
                {mine ? (
                  <div className={`meta status ${status}`} data-testid="receipt">
                    {status === 'read'
                      ? `✓✓ read by ${receipt.read.join(', ')}`
                      : status === 'delivered'
                        ? `✓✓ delivered to ${receipt.delivered.join(', ')}`
                        : '✓ sent'}
                  </div>
                ) : null}
              </div>
            );
          })}
          {waiting.map((item) => (
            <div key={item.id} className="msg mine pending" data-testid="message" data-id={item.id} data-status={item.failed ? 'failed' : 'pending'}>
              <div className="meta">you · {new Date(item.ts).toLocaleTimeString()}</div>
              <div className="text">{item.text}</div>
              <div className="meta status" data-testid="receipt">
                {item.failed ? `✗ not sent: ${item.failed}` : state.status === 'connected' ? 'sending…' : '⏳ queued until the connection is back'}
              </div>
            </div>
          ))}
        </div>
        <div className="typing" data-testid="typing">
          {typists.length === 1 ? `${typists[0]} is typing…` : typists.length > 1 ? `${typists.join(', ')} are typing…` : ''}
        </div>
        <form onSubmit={send}>
          <input
            type="text"
            value={text}
            placeholder={`Message ${channel}`}
            data-testid="compose"
            onChange={(event) => {
              setText(event.target.value);
              if (event.target.value) startTyping();
              else stopTyping();
            }}
          />
          <button type="submit" data-testid="send">
            Send
          </button>
        </form>
      </section>
      <aside className="presence card" data-testid="presence">
        <div className="muted">
          Here now: {presence ? `${presence.clients} connection${presence.clients === 1 ? '' : 's'}` : '…'}
          {presence && presence.users ? `, ${presence.users} user${presence.users === 1 ? '' : 's'}` : ''}
        </div>
        <ul>
          {[...people.entries()].map(([who, count]) => (
            <li key={who} data-testid="member">
              {who}
              {count >= 1000 ? ' (you)' : ''}
              {count % 1000 > 1 ? <span className="muted"> ×{count % 1000}</span> : null}
            </li>
          ))}
        </ul>
        <p className="muted">
          {receiptsFromServer ? 'Receipts: the server’s, per user.' : 'Receipts: "seen" signals between anonymous tabs.'}
        </p>
      </aside>
    </>
  );
}

createRoot(document.getElementById('root')).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
