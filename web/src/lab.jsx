// Connection lab: pick the transports, break the link, and watch the client fall back, back off and recover.
//
// Faults come from one of two places:
// - in-page (default): the client's transports are wrapped in a small fault layer (the client accepts transport
//   factories), which can cut the live transport (as a dropped link, 1006), refuse every new one (offline), or refuse
//   only WebSockets (as a proxy that blocks upgrades) — no extra process needed;
// - the link-fault proxy, when the page is opened through it and given its control address:
//     node tools/linkfault/linkfault.mjs --target http://127.0.0.1:8080 --port 9000 --control-port 9001
//     open http://127.0.0.1:9000/lab.html?control=http://127.0.0.1:9001
//   then the buttons drive the proxy (real TCP resets, real 403 upgrades, SSE buffering) instead.
// An echo loop publishes a counter twice a second and counts what comes back: after any fault, nothing is lost and
// nothing is duplicated (publishes wait in the client's queue; recovery resends what was missed).
import { StrictMode, useEffect, useRef, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { pollTransport, sseTransport, websocketTransport } from '@switchboard/client';
import { SwitchboardProvider, useChannel, useConnectionState, useSwitchboardClient } from '@switchboard/react';
import { ConnectionBanner, Header, HUB_URL, useCountdown, useRetryDeadline } from './common.jsx';

const CONTROL = new URLSearchParams(location.search).get('control');
const TAB = Math.random().toString(36).slice(2, 10);
const CHOICES = {
  auto: ['websocket', 'sse', 'poll'],
  websocket: ['websocket'],
  sse: ['sse'],
  poll: ['poll'],
};
const FACTORIES = { websocket: websocketTransport, sse: sseTransport, poll: pollTransport };

/** The in-page fault layer, shared by every transport the client creates. */
const faults = { offline: false, blockWebSocket: false, live: new Set(), listeners: new Set() };
function setFault(name, value) {
  faults[name] = value;
  if (name === 'offline' && value) cutAll('network offline');
  for (const listener of faults.listeners) listener();
}
function cutAll(reason) {
  for (const transport of [...faults.live]) transport.cut(reason);
}

function faulty(factory) {
  return {
    name: factory.name,
    create(context) {
      const inner = factory.create(context);
      let handlers = null;
      let over = false;
      let refusal = null;
      const transport = {
        name: inner.name,
        open(given) {
          handlers = given;
          const refused = faults.offline ? 'network offline' : faults.blockWebSocket && factory.name === 'websocket' ? 'WebSocket blocked' : null;
          if (refused) {
            // Like a refused connection: it fails shortly after trying.
            refusal = setTimeout(() => transport.cut(refused), 150);
            return;
          }
          faults.live.add(transport);
          inner.open({
            onOpen: () => !over && given.onOpen(),
            onMessage: (message) => !over && given.onMessage(message),
            onActivity: () => !over && given.onActivity(),
            onClose: (event) => {
              faults.live.delete(transport);
              if (!over) {
                over = true;
                given.onClose(event);
              }
            },
          });
        },
        send(commands) {
          if (!over && !refusal) inner.send(commands);
        },
        close() {
          over = true;
          clearTimeout(refusal);
          faults.live.delete(transport);
          inner.close();
        },
        /** The link drops: the client hears 1006, as from a dead socket. */
        cut(reason) {
          if (over) return;
          over = true;
          faults.live.delete(transport);
          inner.close();
          handlers.onClose({ code: 1006, reason });
        },
      };
      return transport;
    },
  };
}

function control(path) {
  // The proxy's control port is another origin without CORS: a no-cors POST reaches it (the answer is opaque).
  return fetch(`${CONTROL}${path}`, { method: 'POST', mode: 'no-cors' }).catch(() => {});
}

function useFaults() {
  const [, setVersion] = useState(0);
  useEffect(() => {
    const listener = () => setVersion((version) => version + 1);
    faults.listeners.add(listener);
    return () => faults.listeners.delete(listener);
  }, []);
  return faults;
}

function Controls({ choice, setChoice }) {
  const state = useConnectionState();
  const current = useFaults();
  const [proxy, setProxy] = useState({ offline: false, refuse: false, buffer: false });
  const toggleProxy = (name, path) => {
    const on = !proxy[name];
    setProxy({ ...proxy, [name]: on });
    control(`${path}${on ? 1 : 0}`);
  };
  return (
    <div className="card grid">
      <label>
        Transports{' '}
        <select value={choice} onChange={(event) => setChoice(event.target.value)} data-testid="transport">
          <option value="auto">auto: websocket → sse → poll</option>
          <option value="websocket">websocket only</option>
          <option value="sse">sse only</option>
          <option value="poll">long-poll only</option>
        </select>
      </label>
      {CONTROL ? (
        <>
          <div className="muted">Faults: link-fault proxy at {CONTROL}</div>
          <div className="row">
            <button onClick={() => control('/cut')} data-testid="cut">
              Cut connections
            </button>
            <button className={proxy.offline ? 'on' : ''} onClick={() => toggleProxy('offline', '/offline?on=')} data-testid="offline">
              Network offline
            </button>
            <button className={proxy.refuse ? 'on' : ''} onClick={() => toggleProxy('refuse', '/websocket?refuse=')} data-testid="block-ws">
              Block WebSocket
            </button>
            <button className={proxy.buffer ? 'on' : ''} onClick={() => toggleProxy('buffer', '/buffer?on=')}>
              Buffer SSE
            </button>
          </div>
        </>
      ) : (
        <>
          <div className="muted">Faults: in-page fault layer (open the page through the link-fault proxy for real ones)</div>
          <div className="row">
            <button onClick={() => cutAll('cut by the lab')} data-testid="cut">
              Cut connection
            </button>
            <button className={current.offline ? 'on' : ''} onClick={() => setFault('offline', !current.offline)} data-testid="offline">
              Network offline
            </button>
            <button className={current.blockWebSocket ? 'on' : ''} onClick={() => setFault('blockWebSocket', !current.blockWebSocket)} data-testid="block-ws">
              Block WebSocket
            </button>
          </div>
        </>
      )}
      <Status state={state} />
    </div>
  );
}

function Status({ state }) {
  const client = useSwitchboardClient();
  const left = useCountdown(useRetryDeadline(state));
  const stats = client.stats;
  return (
    <dl data-testid="status">
      <dt>status</dt>
      <dd data-testid="state">{state.status}</dd>
      <dt>transport</dt>
      <dd data-testid="current-transport">{state.transport ?? '—'}</dd>
      <dt>attempt</dt>
      <dd>{state.attempt ?? '—'}</dd>
      <dt>next retry in</dt>
      <dd data-testid="retry">{left === null ? '—' : `${(left / 1000).toFixed(1)} s`}</dd>
      <dt>reason</dt>
      <dd>{state.reason ?? '—'}</dd>
      <dt>client id</dt>
      <dd className="mono">{state.clientId ?? '—'}</dd>
      <dt>connects</dt>
      <dd>{stats.connects}</dd>
      <dt>transport switches</dt>
      <dd>{stats.transportSwitches}</dd>
      <dt>gaps / resets</dt>
      <dd>
        {stats.gapsSeen} / {stats.resets}
      </dd>
    </dl>
  );
}

function Echo() {
  const client = useSwitchboardClient();
  const channel = `lab:echo-${TAB}`;
  const tally = useRef({ sent: 0, seen: new Set(), duplicates: 0 });
  const { publications } = useChannel(channel, {
    limit: 1,
    onPublication: ({ data }) => {
      const t = tally.current;
      if (t.seen.has(data.n)) t.duplicates++;
      t.seen.add(data.n);
    },
  });
  const [, tick] = useState(0);
  useEffect(() => {
    const timer = setInterval(() => {
      const n = ++tally.current.sent;
      client.publish(channel, { n }).catch(() => {});
      tick((value) => value + 1);
    }, 500);
    return () => clearInterval(timer);
  }, [client, channel]);
  const t = tally.current;
  const highest = t.seen.size ? Math.max(...t.seen) : 0;
  const missing = highest - t.seen.size;
  return (
    <p className="row" data-testid="echo">
      <span className="pill">published {t.sent}</span>
      <span className="pill" data-testid="echo-received">received {t.seen.size}</span>
      <span className="pill" data-testid="echo-missing">missing {missing}</span>
      <span className="pill" data-testid="echo-duplicates">duplicates {t.duplicates}</span>
      <span className="muted">{publications.length ? `last #${publications[0].offset}` : ''}</span>
    </p>
  );
}

function Log() {
  const client = useSwitchboardClient();
  const [lines, setLines] = useState([]);
  useEffect(() => {
    const add = (text) => setLines((all) => [...all.slice(-300), `${new Date().toISOString().slice(11, 23)}  ${text}`]);
    add(`client created (${client.state.status})`);
    const offs = [
      client.on('state', (state) =>
        add(
          [
            state.status,
            state.transport,
            state.status === 'reconnecting' ? `attempt ${state.attempt}, retry in ${state.nextRetryMs} ms (${state.reason})` : '',
            state.status === 'connected' ? `client ${state.clientId}` : '',
            state.status === 'disconnected' ? `${state.reason ?? ''} ${state.code ?? ''}` : '',
          ]
            .filter(Boolean)
            .join(' · '),
        ),
      ),
      client.on('reset', (reset) => add(`reset ${reset.channel}: ${reset.reason}`)),
      client.on('error', (error) => add(`error: ${error?.message ?? error}`)),
    ];
    return () => offs.forEach((off) => off());
  }, [client]);
  const box = useRef(null);
  useEffect(() => {
    if (box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [lines]);
  return (
    <div className="card log" ref={box} data-testid="log">
      {lines.join('\n')}
    </div>
  );
}

function Lab() {
  const [choice, setChoice] = useState(() => new URLSearchParams(location.search).get('transport') ?? 'auto');
  const options = {
    transports: CHOICES[choice].map((name) => faulty(FACTORIES[name])),
    backoff: { initialMs: 500, maxMs: 8000, factor: 2 },
    fallbackAfterFailures: 2,
    upgradeProbeMs: 5000,
    openTimeoutMs: 4000,
    // The lab's faults act on this tab's own transports: no connection shared with other tabs.
    shareAcrossTabs: false,
  };
  return (
    <>
      <Header title="Connection lab" hint="break the link and watch fallback, backoff and recovery" />
      <SwitchboardProvider key={choice} url={HUB_URL} options={options}>
        <ConnectionBanner />
        <main className="lab">
          <Controls choice={choice} setChoice={setChoice} />
          <div>
            <Echo />
            <Log />
          </div>
        </main>
      </SwitchboardProvider>
    </>
  );
}

createRoot(document.getElementById('root')).render(
  <StrictMode>
    <Lab />
  </StrictMode>,
);
