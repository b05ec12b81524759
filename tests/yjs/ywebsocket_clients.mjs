#!/usr/bin/env node
// Unmodified y-websocket clients (Debian's node-y-websocket WebsocketProvider, with node-ws as the WebSocket) editing
// one room of a running server concurrently; prints a JSON report. For test_yjs_websocket.py.
//
// Usage: NODE_PATH=/usr/share/nodejs node ywebsocket_clients.mjs URL ROOM CLIENTS ROUNDS [OFFLINE_CLIENT]
//   URL            ws://127.0.0.1:PORT/yjs (the provider appends /ROOM)
//   CLIENTS        how many providers; each types ROUNDS words ("c<client>r<round> ") into the shared text, and
//                  every fourth round types and deletes two characters
//   OFFLINE_CLIENT index of a client that disconnects half-way, keeps editing offline, then reconnects
// Output: {"texts": [...each client's text...], "synced": [...], "permissionDenied": [...reasons per client...]}
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const Y = require('yjs')
const { WebsocketProvider } = require('y-websocket')
const WebSocket = require('ws')

const [url, room, clientCount, rounds, offlineArg] = process.argv.slice(2)
const offline = offlineArg === undefined ? -1 : Number(offlineArg)
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

const clients = []
for (let i = 0; i < Number(clientCount); i++) {
  const doc = new Y.Doc()
  const provider = new WebsocketProvider(url, room, doc, { WebSocketPolyfill: WebSocket, disableBc: true })
  provider.awareness.setLocalStateField('user', { name: `client ${i}` })
  const denied = []
  // y-websocket reports the permission-denied auth message only with a console warning: capture it.
  clients.push({ doc, provider, denied })
}
const originalWarn = console.warn
console.warn = (...args) => {
  const text = args.join(' ')
  if (text.includes('Permission denied')) clients.forEach(c => c.denied.push(text))
  else originalWarn(...args)
}

const waitFor = async (condition, what, timeoutMs = 20000) => {
  const start = Date.now()
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await sleep(10)
  }
}

await waitFor(() => clients.every(c => c.provider.synced), 'every client to sync')
for (let round = 0; round < Number(rounds); round++) {
  if (round === Math.floor(Number(rounds) / 2) && offline >= 0) clients[offline].provider.disconnect()
  clients.forEach((client, i) => {
    const text = client.doc.getText('text')
    // At the start, after the middle word or at the end: always between words, so every word stays whole.
    const current = text.toString()
    const positions = [0, current.indexOf(' ', Math.floor(current.length / 2)) + 1, current.length]
    text.insert(positions[round % 3], `c${i}r${round} `)
    if (round % 4 === 3) {
      // A deletion: two characters typed and removed again (before any remote update can come between).
      text.insert(0, 'zz')
      text.delete(0, 2)
    }
  })
  await sleep(5)
}
if (offline >= 0) {
  clients[offline].provider.connect()
}
// Converged: every client has the same text and the same snapshot (state vector and delete set: equal state vectors
// alone would let a deletion still in flight go unnoticed).
const sameState = () => {
  const snapshots = clients.map(c => Y.snapshot(c.doc))
  const texts = clients.map(c => c.doc.getText('text').toString())
  return clients.every(c => c.provider.synced) && texts.every(t => t === texts[0]) && snapshots.every(s => Y.equalSnapshots(s, snapshots[0]))
}
let converged = true
try {
  await waitFor(sameState, 'convergence')
} catch {
  converged = false
}
const report = {
  converged,
  texts: clients.map(c => c.doc.getText('text').toString()),
  synced: clients.map(c => c.provider.synced),
  permissionDenied: clients.map(c => c.denied.length),
  awarenessSeen: clients.map(c => [...c.provider.awareness.getStates().values()].map(s => s.user && s.user.name).filter(Boolean).sort())
}
clients.forEach(c => c.provider.destroy())
process.stdout.write(JSON.stringify(report))
process.exit(0)
