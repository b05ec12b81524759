#!/usr/bin/env node
// Applies lists of updates in fresh Yjs documents and prints each document's state, for test_yjs_oracles.py.
// stdin: JSON [[hex update, ...], ...]
// stdout: JSON [{update, snapshot, json}, ...]: Y.encodeStateAsUpdate(doc) (whose bytes depend on how the document's
// items happen to be split, so two equal documents can differ), Y.snapshot(doc) (the delete set and state vector,
// sorted by client: Yjs keeps clients in arrival order), and the content.
// Run with NODE_PATH=/usr/share/nodejs (Debian's node-yjs).
import { createRequire } from 'node:module'
import { readFileSync } from 'node:fs'

const Y = createRequire(import.meta.url)('yjs')
const hex = bytes => Buffer.from(bytes).toString('hex')

const canonicalSnapshot = snapshot => ({
  stateVector: [...snapshot.sv].sort((a, b) => a[0] - b[0]),
  deleteSet: [...snapshot.ds.clients].sort((a, b) => a[0] - b[0]).map(([client, items]) => [client, items.map(i => [i.clock, i.len])])
})

const jobs = JSON.parse(readFileSync(0, 'utf8'))
const results = jobs.map(updates => {
  const doc = new Y.Doc()
  updates.forEach(update => Y.applyUpdate(doc, Buffer.from(update, 'hex')))
  return {
    update: hex(Y.encodeStateAsUpdate(doc)),
    snapshot: canonicalSnapshot(Y.snapshot(doc)),
    json: {
      text: doc.getText('text').toDelta(),
      map: doc.getMap('map').toJSON(),
      array: doc.getArray('array').toJSON().map(v => (v instanceof Uint8Array ? { binary: hex(v) } : v))
    }
  }
})
process.stdout.write(JSON.stringify(results))
