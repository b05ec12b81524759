// News feed with a plain WebSocket on the raw WebSocket endpoint (protocol.md §9.1): no SDK, no framework. Every
// publication to `news` arrives as one text frame holding exactly the published JSON; a text message sent on the
// socket is published to the channel (development mode lets clients publish). Reconnects with a doubling delay.
const status = document.getElementById('status');
const list = document.getElementById('items');
const form = document.getElementById('compose');
const input = document.getElementById('headline');
const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/raw/ws/news`;
let socket = null;
let delay = 500;
let received = 0;

function show(data) {
  const item = document.createElement('li');
  item.dataset.testid = 'news-item';
  const title = document.createElement('b');
  title.textContent = typeof data === 'object' && data !== null ? data.title ?? JSON.stringify(data) : String(data);
  item.append(title);
  if (data && data.body) item.append(` — ${data.body}`);
  list.querySelector('.empty')?.remove();
  list.prepend(item);
}

function connect() {
  socket = new WebSocket(url);
  status.textContent = 'connecting';
  status.dataset.status = 'connecting';
  socket.onopen = () => {
    delay = 500;
    status.textContent = 'open';
    status.dataset.status = 'open';
  };
  socket.onmessage = (event) => {
    let data;
    try {
      data = JSON.parse(event.data);
    } catch {
      data = event.data;
    }
    received++;
    document.getElementById('count').textContent = String(received);
    show(data);
  };
  socket.onclose = (event) => {
    status.textContent = `closed (${event.code}${event.reason ? ` ${event.reason}` : ''}); reconnecting in ${delay} ms`;
    status.dataset.status = 'reconnecting';
    setTimeout(connect, delay);
    delay = Math.min(delay * 2, 10000);
  };
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  const title = input.value.trim();
  if (!title || socket?.readyState !== WebSocket.OPEN) return;
  socket.send(JSON.stringify({ title, body: 'posted from the plain WebSocket page' }));
  input.value = '';
});
connect();
