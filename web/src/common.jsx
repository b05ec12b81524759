// Pieces shared by the React demos: the page header and the connection banner.
import { useEffect, useState } from 'react';
import { useConnectionState } from '@switchboard/react';

/** The hub is the page's own origin: `switchboard serve --web-root web/dist` serves the demos and the hub together. */
export const HUB_URL = location.origin;

export function Header({ title, hint }) {
  return (
    <header className="top">
      <a href="./">Switchboard demos</a>
      <h1>{title}</h1>
      {hint ? <span className="hint">{hint}</span> : null}
    </header>
  );
}

/** Milliseconds left until `deadline` (epoch ms), re-rendered ten times a second while counting. */
export function useCountdown(deadline) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (deadline === null) return undefined;
    const timer = setInterval(() => setNow(Date.now()), 100);
    return () => clearInterval(timer);
  }, [deadline]);
  return deadline === null ? null : Math.max(0, deadline - now);
}

/** When the client will try again, as an absolute time, from `reconnecting` states (null otherwise). */
export function useRetryDeadline(state) {
  const [deadline, setDeadline] = useState(null);
  useEffect(() => {
    setDeadline(state.status === 'reconnecting' && state.nextRetryMs > 0 ? Date.now() + state.nextRetryMs : null);
  }, [state]);
  return deadline;
}

/** The reconnect banner: what the connection is doing, and when the next attempt is due. */
export function ConnectionBanner({ offlineNote }) {
  const state = useConnectionState();
  const left = useCountdown(useRetryDeadline(state));
  let text;
  switch (state.status) {
    case 'connected':
      text = `Connected over ${state.transport}`;
      break;
    case 'connecting':
      text = `Connecting over ${state.transport}…`;
      break;
    case 'reconnecting':
      text =
        left !== null && left > 0
          ? `Connection lost (${state.reason}). Reconnecting over ${state.transport} in ${(left / 1000).toFixed(1)} s…`
          : `Connection lost (${state.reason}). Reconnecting over ${state.transport} now…`;
      break;
    default:
      text = `Disconnected${state.reason ? ` (${state.reason})` : ''}.`;
  }
  if (state.status !== 'connected' && offlineNote) text += ` ${offlineNote}`;
  return (
    <div className={`banner ${state.status}`} data-testid="banner" data-status={state.status}>
      {text}
    </div>
  );
}
