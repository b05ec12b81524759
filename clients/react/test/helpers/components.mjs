// Small components written the way an app would, used by the specification tests and the fake/real scenarios.

import { h, React } from './dom.mjs';
import { useChannel, useConnectionState, usePublish } from '@switchboard/react';

/** A chat room: the connection banner, every message, a send button that shows a refused publish. */
export function ChatRoom({ channel, onRender, sendText = 'hello' }) {
  onRender?.();
  const connection = useConnectionState();
  const { publications, reset, status } = useChannel(channel);
  const publish = usePublish(channel);
  const [error, setError] = React.useState(null);
  const send = () =>
    publish({ text: sendText }).then(
      () => setError(null),
      (failure) => setError(`${failure.code ?? ''} ${failure.message}`),
    );
  return h(
    'div',
    null,
    h('p', { className: 'banner' }, connection.status),
    h('p', { className: 'status' }, status),
    reset ? h('p', { className: 'reset' }, reset.reason) : null,
    h('ul', null, publications.map((publication) => h('li', { key: `${publication.epoch}:${publication.offset}` }, publication.data.text))),
    h('button', { onClick: send }, 'send'),
    error ? h('p', { className: 'error' }, error) : null,
  );
}

/** Clicks the first button of a rendered container (a real DOM click event, as a user would). */
export function click(container) {
  const button = container.querySelector('button');
  button.dispatchEvent(new window.MouseEvent('click', { bubbles: true }));
}
