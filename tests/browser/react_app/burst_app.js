// A React app for the render-budget test (test_react_burst.py): one `useChannel` with a `limit` rendering every
// publication it keeps, in React's production build (what an app ships). The test drives it through `window.app`
// and reads the counters below: renders and the frame each happened in, the longest buffer React was given, the
// publications received and when the first and the last arrived.
import { createElement as h, useLayoutEffect } from 'react';
import { createRoot } from 'react-dom/client';
import { SwitchboardProvider, useChannel, useSwitchboardClient } from '@switchboard/react';

let root = null;
let client = null;
const meter = { frames: 0, renders: 0, rendersInSameFrame: 0, longestBuffer: 0, received: 0, lastN: 0, firstAt: null, lastAt: null };
let renderedInFrame = -1;

// Frames counted by a loop of its own: a render in the same numbered frame as the previous one is a second render
// between two animation frames.
requestAnimationFrame(function tick() {
  meter.frames++;
  requestAnimationFrame(tick);
});

function Feed({ channel, limit, since }) {
  client = useSwitchboardClient();
  const { publications, status } = useChannel(channel, {
    limit: limit ?? Infinity, // null: keep every publication (the unbounded comparison in docs/react.md)
    since,
    onPublication: (publication) => {
      meter.received++;
      meter.lastN = publication.data.n;
      meter.lastAt = performance.now();
      meter.firstAt ??= meter.lastAt;
    },
  });
  useLayoutEffect(() => {
    meter.renders++;
    if (renderedInFrame === meter.frames) meter.rendersInSameFrame++;
    renderedInFrame = meter.frames;
    meter.longestBuffer = Math.max(meter.longestBuffer, publications.length);
  });
  return h(
    'section',
    null,
    h('p', { id: 'status' }, status),
    h('ol', null, publications.map((publication) => h('li', { key: publication.offset }, `${publication.data.n} ${publication.data.text}`))),
  );
}

window.app = {
  /** Mounts the provider (its own client with `options`) and one feed of `channel` from `since` keeping `limit`. */
  mount(channel, limit, options, since) {
    root = createRoot(document.getElementById('root'));
    root.render(h(SwitchboardProvider, { url: location.origin, options }, h(Feed, { channel, limit, since })));
  },
  status() {
    return client ? { status: client.state.status, transport: client.state.transport, subscription: document.getElementById('status')?.textContent ?? null } : null;
  },
  meter() {
    return { ...meter, at: performance.now() };
  },
  rows() {
    return document.querySelectorAll('li').length;
  },
};
