#!/usr/bin/env node
// A stand-in price feed for the ticker demo, publishing through the HTTP API like any real publisher: RATE updates
// per second over SYMBOLS symbols (S001…) to `ticker:prices`, the symbol as the publication `key` (conflation) and
// data {"symbol":"S001","price":123.45,"ts":<ms>}. Prices follow a random walk.
//
//   node web/tools/ticker-feed.mjs --url http://127.0.0.1:8080 --api-key KEY [--rate 1000] [--symbols 500] [--seconds 0]
//
// KEY is the API key `switchboard serve` printed (or SWITCHBOARD_API_KEY). --seconds 0 runs until interrupted.
const args = process.argv.slice(2);
const option = (name, fallback) => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? args[index + 1] : fallback;
};
const url = option('url', 'http://127.0.0.1:8080').replace(/\/+$/, '');
const apiKey = option('api-key', process.env.SWITCHBOARD_API_KEY);
const rate = Number(option('rate', 1000));
const symbols = Number(option('symbols', 500));
const seconds = Number(option('seconds', 0));
if (!apiKey) {
  console.error('ticker-feed: give --api-key KEY (the key switchboard serve printed) or set SWITCHBOARD_API_KEY');
  process.exit(2);
}
const TICK_MS = 50;
const MAX_BATCH = 400; // about 40 KB of JSON: under the default limits.max_message_bytes (64 KiB)
const names = Array.from({ length: symbols }, (_, index) => `S${String(index + 1).padStart(3, '0')}`);
const prices = names.map(() => 50 + Math.random() * 150);
let cursor = 0;
let sent = 0;
let scheduled = 0;
const started = Date.now();

async function tick() {
  // Whatever is due by the clock, so a slow answer (a skipped tick) is made up by the next request.
  const elapsed = Math.min(Date.now() - started, seconds > 0 ? seconds * 1000 : Infinity);
  const count = Math.min(MAX_BATCH, Math.floor((rate * elapsed) / 1000) - scheduled);
  scheduled += Math.max(0, count);
  const publications = [];
  for (let n = 0; n < count; n++) {
    const index = cursor++ % symbols;
    prices[index] = Math.max(1, prices[index] * (1 + (Math.random() - 0.5) * 0.004));
    const price = Math.round(prices[index] * 100) / 100;
    publications.push({ channel: 'ticker:prices', key: names[index], data: { symbol: names[index], price, ts: Date.now() } });
  }
  if (publications.length === 0) return;
  const response = await fetch(`${url}/api/publish`, {
    method: 'POST',
    headers: { authorization: `apikey ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ publications }),
  });
  if (!response.ok) throw new Error(`POST /api/publish: ${response.status} ${await response.text()}`);
  sent += publications.length;
}

let busy = false;
const timer = setInterval(() => {
  if (busy) return; // a slow answer skips a tick; what is due goes out with the next one
  busy = true;
  tick()
    .catch((error) => console.error(`ticker-feed: ${error.message} (retrying)`))
    .finally(() => (busy = false));
  if (seconds > 0 && scheduled >= rate * seconds) {
    clearInterval(timer);
    setTimeout(() => console.log(`ticker-feed: sent ${sent} updates in ${((Date.now() - started) / 1000).toFixed(1)} s`), 500);
  }
}, TICK_MS);
const report = setInterval(() => console.log(`ticker-feed: ${sent} updates sent (${Math.round(sent / ((Date.now() - started) / 1000))}/s)`), 5000);
report.unref();
process.on('SIGINT', () => process.exit(0));
