// Notifications demo over SSE: the client is limited to the SSE transport (GET /connection/sse + POST commands) and
// shows every notification published to `notify:inbox` — by the HTTP API, `switchboard publish`, or the button here.
// Stop and restart the server: the banner counts down the reconnect, the page comes back on its own, and because the
// in-memory history died with the old process the client reports a reset (said on the page) and continues live.
import { StrictMode, useEffect, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { SwitchboardProvider, useChannel, useConnectionState, usePublish, useSwitchboardClient } from '@switchboard/react';
import { ConnectionBanner, Header, HUB_URL } from './common.jsx';

const CHANNEL = 'notify:inbox';

function Notifications() {
  const client = useSwitchboardClient();
  const state = useConnectionState();
  const { publications, status, reset, resets } = useChannel(CHANNEL, { limit: 100 });
  const publish = usePublish(CHANNEL);
  const [connects, setConnects] = useState(0);
  useEffect(() => {
    if (state.status === 'connected') setConnects(client.stats.connects);
  }, [state, client]);
  useEffect(() => {
    window.notificationsDemo = { client };
  }, [client]);
  const items = [...publications].reverse();
  return (
    <>
      <Header title="Notifications" hint={`SSE only · channel ${CHANNEL}`} />
      <ConnectionBanner offlineNote="Notifications sent meanwhile are recovered when it is back (unless the server restarted)." />
      <main className="grid">
        <div className="card row">
          <span className="pill" data-testid="connects">
            connections: {connects}
          </span>
          <span className="pill">subscription: {status}</span>
          <button
            data-testid="send-test"
            onClick={() => publish({ title: 'Test notification', body: `sent from this page at ${new Date().toLocaleTimeString()}`, ts: Date.now() }).catch(() => {})}
          >
            Send a test notification
          </button>
          <span className="muted">
            or: <code>switchboard publish {CHANNEL} {'\'{"title":"Deploy finished"}\''}</code>
          </span>
        </div>
        {resets > 0 ? (
          <p className="note" data-testid="reset-note">
            The server lost its history ({reset.reason}); notifications sent while this page was disconnected may be
            missing. New ones arrive as usual.
          </p>
        ) : null}
        <ul className="list" data-testid="notifications">
          {items.length === 0 ? <li className="muted">No notifications yet.</li> : null}
          {items.map(({ offset, data }) => (
            <li key={`${offset}-${data?.ts ?? ''}`} data-testid="notification">
              <b>{typeof data === 'object' && data !== null ? data.title ?? JSON.stringify(data) : String(data)}</b>
              {data?.body ? <span className="muted"> — {data.body}</span> : null}
              <span className="muted"> · #{offset}</span>
            </li>
          ))}
        </ul>
      </main>
    </>
  );
}

createRoot(document.getElementById('root')).render(
  <StrictMode>
    <SwitchboardProvider url={HUB_URL} options={{ transports: ['sse'], backoff: { initialMs: 300, maxMs: 3000, factor: 2 } }}>
      <Notifications />
    </SwitchboardProvider>
  </StrictMode>,
);
