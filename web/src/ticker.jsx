// Stock ticker demo: 500 symbols on the conflating channel `ticker:prices` (the publication `key` is the symbol), a
// virtualized table written here (only the rows in view are in the DOM), memoized rows (a row re-renders only when
// its symbol's price changed), a per-subscription max-rate selector, and live figures: updates received per second,
// table renders per second, rows re-rendered, frames per second and long tasks (Performance API).
//
// `?transport=sse` (or `websocket`, `poll`) pins the client to one transport; without it the client's default order
// applies (WebSocket first).
import { StrictMode, memo, useEffect, useLayoutEffect, useRef, useState } from 'react';
import { createRoot } from 'react-dom/client';
import { SwitchboardProvider, useChannel } from '@switchboard/react';
import { ConnectionBanner, Header, HUB_URL } from './common.jsx';

const CHANNEL = 'ticker:prices';
const ROW_HEIGHT = 28;
const VIEW_HEIGHT = 480;
const OVERSCAN = 4;
const RATES = [0, 1, 5, 10, 30, 60];

/** Latest price per symbol. Rows are frozen objects replaced on every update, so memoized rows compare by identity. */
class Book {
  rows = new Map();
  symbols = [];
  apply({ key, data }) {
    const symbol = key ?? data?.symbol;
    if (!symbol || typeof data?.price !== 'number') return;
    const old = this.rows.get(symbol);
    if (!old) {
      this.symbols.push(symbol);
      this.symbols.sort();
    }
    this.rows.set(symbol, Object.freeze({ symbol, price: data.price, prev: old ? old.price : data.price, ts: data.ts, updates: (old?.updates ?? 0) + 1 }));
  }
  prices() {
    return Object.fromEntries([...this.rows].map(([symbol, row]) => [symbol, row.price]));
  }
}

const TRANSPORTS = ['websocket', 'sse', 'poll'];
const PINNED_TRANSPORT = new URLSearchParams(location.search).get('transport');

/**
 * Counters read by the page's figures and by the browser tests. `deliveries` counts the tasks that brought at least
 * one publication (a WebSocket message or an SSE chunk: what the hub pushed at once); `feedMounts` counts mounts of
 * the subscribing component, so a test can tell that a max-rate change did not remount it.
 */
const meter = { updates: 0, deliveries: 0, renders: 0, rowRenders: 0, frames: 0, longTasks: 0, longTaskMs: 0, longestTaskMs: 0, feedMounts: 0 };
let deliveryOpen = false;

function countUpdate() {
  meter.updates++;
  if (deliveryOpen) return;
  // Publications handled in the same task came in one push; the microtask closes the task's count.
  deliveryOpen = true;
  meter.deliveries++;
  queueMicrotask(() => {
    deliveryOpen = false;
  });
}

function useFrameAndLongTaskMeter() {
  useEffect(() => {
    let frame = requestAnimationFrame(function tick() {
      meter.frames++;
      frame = requestAnimationFrame(tick);
    });
    let observer = null;
    if (typeof PerformanceObserver === 'function' && PerformanceObserver.supportedEntryTypes?.includes('longtask')) {
      observer = new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) {
          meter.longTasks++;
          meter.longTaskMs += entry.duration;
          meter.longestTaskMs = Math.max(meter.longestTaskMs, entry.duration);
        }
      });
      observer.observe({ type: 'longtask', buffered: true });
    }
    return () => {
      cancelAnimationFrame(frame);
      observer?.disconnect();
    };
  }, []);
}

/** Per-second figures from the meter's counters. */
function useRates() {
  const [rates, setRates] = useState({ updates: 0, renders: 0, rowRenders: 0, frames: 0 });
  useEffect(() => {
    let last = { ...meter, at: performance.now() };
    const timer = setInterval(() => {
      const now = { ...meter, at: performance.now() };
      const seconds = (now.at - last.at) / 1000;
      const per = (name) => Math.round((now[name] - last[name]) / seconds);
      setRates({ updates: per('updates'), renders: per('renders'), rowRenders: per('rowRenders'), frames: per('frames') });
      last = now;
    }, 1000);
    return () => clearInterval(timer);
  }, []);
  return rates;
}

const Row = memo(function Row({ row, index }) {
  meter.rowRenders++;
  const change = row.price - row.prev;
  return (
    <div className="ticker-row" style={{ top: ROW_HEIGHT * (index + 1), height: ROW_HEIGHT }} data-testid="row" data-symbol={row.symbol} data-price={row.price}>
      <span>{row.symbol}</span>
      <span>{row.price.toFixed(2)}</span>
      <span className={change > 0 ? 'up' : change < 0 ? 'down' : ''}>
        {change > 0 ? '▲' : change < 0 ? '▼' : ''} {Math.abs(change).toFixed(2)}
      </span>
      <span>{row.updates}</span>
      <span className="muted">{row.ts ? new Date(row.ts).toLocaleTimeString() : ''}</span>
    </div>
  );
});

function Table({ book }) {
  const [scrollTop, setScrollTop] = useState(0);
  useLayoutEffect(() => {
    meter.renders++;
  });
  const count = book.symbols.length;
  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(count, Math.ceil((scrollTop + VIEW_HEIGHT) / ROW_HEIGHT) + OVERSCAN);
  const rows = [];
  for (let index = first; index < last; index++) {
    const symbol = book.symbols[index];
    rows.push(<Row key={symbol} row={book.rows.get(symbol)} index={index} />);
  }
  return (
    <div className="ticker-table" style={{ height: VIEW_HEIGHT }} onScroll={(event) => setScrollTop(event.currentTarget.scrollTop)} data-testid="table">
      <div className="ticker-row head" style={{ height: ROW_HEIGHT }}>
        <span>Symbol</span>
        <span>Price</span>
        <span>Change</span>
        <span>Updates</span>
        <span>Time</span>
      </div>
      <div style={{ height: ROW_HEIGHT * count }} />
      {rows}
    </div>
  );
}

/** The subscription. A new max rate is an option change on the mounted hook: the client subscribes again from the
 * channel's position with the new rate (docs/react.md), so the component and its table stay mounted. */
function Feed({ maxRate, book }) {
  useEffect(() => {
    meter.feedMounts++;
  }, []);
  const { status, position } = useChannel(CHANNEL, {
    ...(maxRate > 0 ? { maxRate } : {}),
    limit: 1, // keep nothing: the book holds the state; the changing snapshot paces renders to one per frame
    onPublication: (publication) => {
      book.apply(publication);
      countUpdate();
    },
  });
  return (
    <>
      <p className="muted" data-testid="feed-status" data-rate={maxRate}>
        subscription {status}
        {position ? ` · offset ${position.offset}` : ''} · {book.symbols.length} symbols
      </p>
      <Table book={book} />
    </>
  );
}

function Ticker() {
  const [book] = useState(() => new Book());
  const [maxRate, setMaxRate] = useState(0);
  useFrameAndLongTaskMeter();
  const rates = useRates();
  const [stale, setStale] = useState(false);
  useEffect(() => {
    let seen = meter.updates;
    const timer = setInterval(() => {
      setStale(meter.updates === seen);
      seen = meter.updates;
    }, 3000);
    return () => clearInterval(timer);
  }, []);
  useEffect(() => {
    window.tickerDemo = {
      book,
      prices: () => book.prices(),
      renderedRows: () => document.querySelectorAll('[data-testid=row]').length,
      meter: () => ({ ...meter }),
      setMaxRate,
    };
  }, [book]);
  return (
    <>
      <Header title="Stock ticker" hint={`${CHANNEL}: latest price per symbol, conflated by key`} />
      <ConnectionBanner />
      <main>
        <div className="stats">
          <div className="stat card">
            updates/s<b data-testid="update-rate">{rates.updates}</b>
          </div>
          <div className="stat card">
            table renders/s<b data-testid="render-rate">{rates.renders}</b>
          </div>
          <div className="stat card">
            rows re-rendered/s<b>{rates.rowRenders}</b>
          </div>
          <div className="stat card">
            frames/s<b>{rates.frames}</b>
          </div>
          <div className="stat card">
            long tasks<b>{meter.longTasks}</b>
          </div>
          <div className="stat card">
            <label>
              max rate (pushes/s)
              <br />
              <select value={maxRate} onChange={(event) => setMaxRate(Number(event.target.value))} data-testid="max-rate">
                {RATES.map((rate) => (
                  <option key={rate} value={rate}>
                    {rate === 0 ? 'unlimited' : rate}
                  </option>
                ))}
              </select>
            </label>
          </div>
        </div>
        {stale ? (
          <p className="note" data-testid="no-feed">
            No prices are arriving. The server's simulated feed runs in demo mode (<code>switchboard serve --demo</code>,
            what <code>make run</code> starts); against another server, run{' '}
            <code>node web/tools/ticker-feed.mjs --url {HUB_URL} --api-key KEY</code> (KEY: the server's API key).
          </p>
        ) : null}
        <Feed maxRate={maxRate} book={book} />
      </main>
    </>
  );
}

createRoot(document.getElementById('root')).render(
  <StrictMode>
    <SwitchboardProvider
      url={HUB_URL}
      options={{
        backoff: { initialMs: 300, maxMs: 5000, factor: 2 },
        ...(TRANSPORTS.includes(PINNED_TRANSPORT) ? { transports: [PINNED_TRANSPORT] } : {}),
      }}
    >
      <Ticker />
    </SwitchboardProvider>
  </StrictMode>,
);
