#!/usr/bin/env node
// Unmodified y-websocket clients (Debian's node-y-websocket, node-ws) making random edits in one room for a while,
// one of them cut off for part of it and editing offline; then they report their states, and wait until each holds
// the reference document the caller sends back. For test_yjs_convergence.py.
//
// Usage: NODE_PATH=/usr/share/nodejs node ywebsocket_session.mjs URL ROOM CLIENTS SECONDS OFFLINE_CLIENT OFFLINE_AT OFFLINE_FOR SEED
// stdout, one JSON line each: {"ready": true} once every client synced; {"states": [hex of each client's whole
// document], "offlineEdits": edits the cut-off client made offline} after SECONDS; {"texts": [...], "converged": bool} once every client holds the reference document.
// stdin: one JSON line {"text": "...", "stateVector": {"client": clock, ...}}, the reference document.
import { createRequire } from 'node:module'
import { createInterface } from 'node:readline'

const require = createRequire(import.meta.url)
const Y = require('yjs')
const { WebsocketProvider } = require('y-websocket')
const WebSocket = require('ws')

const [url, room, count, seconds, offline, offlineAt, offlineFor, seed] = process.argv.slice(2).map((v, i) => (i < 2 ? v : Number(v)))
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))
// mulberry32: a seeded generator, so a failing run can be repeated.
let state = seed >>> 0
const random = () => {
  state = (state + 0x6d2b79f5) >>> 0
  let t = state
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const waitFor = async (condition, what, timeoutMs = 30000) => {
  const start = Date.now()
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}
const say = object => process.stdout.write(JSON.stringify(object) + '\n')

const clients = []
for (let i = 0; i < count; i++) {
  const doc = new Y.Doc()
  const provider = new WebsocketProvider(url, room, doc, { WebSocketPolyfill: WebSocket, disableBc: true })
  clients.push({ doc, provider, text: doc.getText('text') })
}
await waitFor(() => clients.every(c => c.provider.synced), 'every client to sync')
say({ ready: true })

const started = Date.now()
let disconnected = false
let reconnected = false
let offlineEdits = 0
while (Date.now() - started < seconds * 1000) {
  const elapsed = (Date.now() - started) / 1000
  if (!disconnected && elapsed >= offlineAt) {
    clients[offline].provider.disconnect()
    disconnected = true
  }
  if (disconnected && !reconnected && elapsed >= offlineAt + offlineFor) {
    clients[offline].provider.connect()
    reconnected = true
  }
  if (disconnected && !reconnected) offlineEdits++
  for (const { text } of clients) {
    const length = text.length
    if (length > 20 && random() < 0.3) {
      const at = Math.floor(random() * (length - 3))
      text.delete(at, 1 + Math.floor(random() * 3))
    } else {
      text.insert(Math.floor(random() * (length + 1)), random().toString(36).slice(2, 2 + 1 + Math.floor(random() * 5)))
    }
  }
  await sleep(20 + Math.floor(random() * 30))
}
say({ states: clients.map(c => Buffer.from(Y.encodeStateAsUpdate(c.doc)).toString('hex')), offlineEdits })

const lines = createInterface({ input: process.stdin })
const reference = JSON.parse(await new Promise(resolve => lines.once('line', resolve)))
const holdsReference = ({ doc, text, provider }) => {
  const vector = Object.fromEntries([...Y.decodeStateVector(Y.encodeStateVector(doc))].map(([client, clock]) => [String(client), clock]))
  const expected = reference.stateVector
  return provider.synced && text.toString() === reference.text &&
    Object.keys(vector).length === Object.keys(expected).length && Object.entries(expected).every(([client, clock]) => vector[client] === clock)
}
let converged = true
try {
  await waitFor(() => clients.every(holdsReference), 'the reference document')
} catch {
  converged = false
}
say({ converged, texts: clients.map(c => c.text.toString()) })
clients.forEach(c => c.provider.destroy())
lines.close()
process.exit(0)
