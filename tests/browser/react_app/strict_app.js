// A React app for the StrictMode leak test (test_react_strict.py): the provider creates its own client from a url
// (cross-tab sharing on, the default) and a component subscribes to a channel, all inside <StrictMode>, in React's
// development build so StrictMode double-invokes renders and effects. The test drives it through `window.app`.
import { StrictMode, createElement as h } from 'react';
import { createRoot } from 'react-dom/client';
import { SwitchboardProvider, useChannel, useSwitchboardClient } from '@switchboard/react';

let root = null;
let client = null;

function Feed({ channel }) {
  client = useSwitchboardClient();
  const { publications, status } = useChannel(channel);
  return h('p', { id: 'feed' }, `${status} ${publications.length}`);
}

window.app = {
  mount(channel) {
    root = createRoot(document.getElementById('root'));
    root.render(h(StrictMode, null, h(SwitchboardProvider, { url: location.origin }, h(Feed, { channel }))));
  },
  unmount() {
    root?.unmount();
    root = null;
    client = null;
  },
  /** The client's connection state, read from the client (a hidden tab does not render: rAF is paused there). */
  status() {
    return client ? client.state.status : null;
  },
};
