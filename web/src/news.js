// News feed with a plain EventSource on the raw SSE endpoint (protocol.md §9.2): no SDK, no framework. Each
// publication to the channel `news` arrives as one message whose data is exactly the published JSON; the browser
// reconnects by itself and resumes from the last event id (Last-Event-ID), so nothing is missed across a drop.
const status = document.getElementById('status');
const list = document.getElementById('items');
const note = document.getElementById('note');
let received = 0;

function show(data, id) {
  const item = document.createElement('li');
  item.dataset.testid = 'news-item';
  const title = document.createElement('b');
  title.textContent = typeof data === 'object' && data !== null ? data.title ?? JSON.stringify(data) : String(data);
  item.append(title);
  if (data && data.body) item.append(` — ${data.body}`);
  const meta = document.createElement('span');
  meta.className = 'muted';
  meta.textContent = ` · id ${id}`;
  item.append(meta);
  list.querySelector('.empty')?.remove();
  list.prepend(item);
}

const source = new EventSource('/raw/sse/news');
source.onopen = () => {
  status.textContent = 'open';
  status.dataset.status = 'open';
};
source.onmessage = (event) => {
  let data;
  try {
    data = JSON.parse(event.data);
  } catch {
    data = event.data;
  }
  received++;
  document.getElementById('count').textContent = String(received);
  show(data, event.lastEventId);
};
// The server's own events: a resume that could not be served (history lost), and the end of the stream.
source.addEventListener('reset', (event) => {
  note.hidden = false;
  note.textContent = `The feed could not resume (${JSON.parse(event.data).reason}); items published meanwhile are missing.`;
});
source.addEventListener('disconnect', (event) => {
  status.textContent = `server ended the stream (${JSON.parse(event.data).reason}); the browser reconnects`;
});
source.onerror = () => {
  const closed = source.readyState === EventSource.CLOSED;
  status.textContent = closed ? 'closed (refused by the server)' : 'reconnecting (the browser retries and resumes by itself)';
  status.dataset.status = closed ? 'closed' : 'reconnecting';
};
