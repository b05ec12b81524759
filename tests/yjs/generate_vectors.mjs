#!/usr/bin/env node
// Writes yjs_vectors.json: randomized editing sessions recorded by Yjs itself (Debian's node-yjs), the oracle for
// the Swift update utilities (Sources/SwitchboardYjs). Deterministic: fixed seeds and fixed client ids.
//
// Usage: NODE_PATH=/usr/share/nodejs node tests/yjs/generate_vectors.mjs [OUTPUT]   (default: yjs_vectors.json next to this script)
//
// Each session is an object:
//   name           what it exercises
//   source         "yjs"
//   updates        every update the clients emitted for their own edits, then each client's full state
//                  (Y.encodeStateAsUpdate, with garbage-collected deletes), hex
//   state_vectors  Y.encodeStateVectorFromUpdate of each update, hex
//   merged         Y.mergeUpdates(updates), hex
//   partial_merges {indices, merged}: Y.mergeUpdates of a subset in a shuffled order (gaps become skips)
//   diffs          {state_vector, base, diff}: a client's Y.encodeStateVector part-way through, its whole state then
//                  (Y.encodeStateAsUpdate), and Y.diffUpdate(merged, state_vector); base + diff is the whole document
//   json           the document after applying every update: text as a delta, the map and the array as JSON
import { createRequire } from 'node:module'
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'

// Debian installs Node packages in /usr/share/nodejs: run with NODE_PATH=/usr/share/nodejs (CommonJS `require`
// honours it, ESM `import` does not).
const Y = createRequire(import.meta.url)('yjs')

const hex = bytes => Buffer.from(bytes).toString('hex')

// mulberry32: small, seeded, the same numbers on every machine.
const rng = seed => () => {
  seed = (seed + 0x6D2B79F5) | 0
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const words = ['a', 'bc', 'def', 'héllo', 'ünï', '😀', 'x😀y', '日本語', '\n', '  ', 'Ω≈ç√']
const values = random => {
  const pick = Math.floor(random() * 11)
  switch (pick) {
    case 0: return Math.floor(random() * 1000) - 500
    case 1: return random() * 1e6
    case 2: return words[Math.floor(random() * words.length)]
    case 3: return random() < 0.5
    case 4: return null
    case 5: return { k: Math.floor(random() * 10), nested: { list: [1, 'two', null] } }
    case 6: return [Math.floor(random() * 5), 'x', [true]]
    case 7: return 2 ** 40 + Math.floor(random() * 1000)
    case 8: return new Uint8Array([1, 2, Math.floor(random() * 256)])
    case 9: return 1.5
    default: return -0.25
  }
}

const edit = (doc, random, kinds) => {
  const text = doc.getText('text')
  const map = doc.getMap('map')
  const array = doc.getArray('array')
  const kind = kinds[Math.floor(random() * kinds.length)]
  const index = length => Math.floor(random() * (length + 1))
  switch (kind) {
    case 'insert': {
      const word = words[Math.floor(random() * words.length)]
      const attributes = random() < 0.2 ? { bold: true } : undefined
      text.insert(index(text.length), word, attributes)
      break
    }
    case 'delete':
      if (text.length > 0) {
        const at = Math.floor(random() * text.length)
        text.delete(at, Math.min(text.length - at, 1 + Math.floor(random() * 4)))
      }
      break
    case 'format':
      if (text.length > 0) {
        const at = Math.floor(random() * text.length)
        const attributes = [{ bold: true }, { italic: true }, { bold: null }, { color: '#ff0000' }][Math.floor(random() * 4)]
        text.format(at, Math.min(text.length - at, 1 + Math.floor(random() * 5)), attributes)
      }
      break
    case 'embed':
      text.insertEmbed(index(text.length), { image: 'pic.png' })
      break
    case 'map-set':
      map.set(['a', 'b', 'c', 'd'][Math.floor(random() * 4)], values(random))
      break
    case 'map-delete':
      map.delete(['a', 'b', 'c', 'd'][Math.floor(random() * 4)])
      break
    case 'map-nested': {
      const inner = new Y.Text()
      map.set('doc', inner)
      inner.insert(0, 'inner text')
      break
    }
    case 'array-insert': {
      const count = 1 + Math.floor(random() * 3)
      const content = []
      for (let i = 0; i < count; i++) content.push(values(random))
      array.insert(index(array.length), content)
      break
    }
    case 'array-delete':
      if (array.length > 0) {
        const at = Math.floor(random() * array.length)
        array.delete(at, Math.min(array.length - at, 1 + Math.floor(random() * 3)))
      }
      break
    case 'array-type': {
      const inner = new Y.Map()
      array.insert(index(array.length), [inner])
      inner.set('x', 1)
      break
    }
  }
}

const documentJSON = doc => ({
  text: doc.getText('text').toDelta(),
  map: doc.getMap('map').toJSON(),
  array: doc.getArray('array').toJSON().map(v => (v instanceof Uint8Array ? { binary: hex(v) } : v))
})

const session = ({ name, seed, clients, steps, kinds, syncEvery }) => {
  const random = rng(seed)
  const docs = clients.map(id => {
    const doc = new Y.Doc()
    doc.clientID = id
    return doc
  })
  const updates = []
  const diffStates = []
  docs.forEach(doc => doc.on('update', (update, origin) => { if (origin !== 'remote') updates.push(update) }))
  for (let step = 0; step < steps; step++) {
    const doc = docs[Math.floor(random() * docs.length)]
    edit(doc, random, kinds)
    if (random() < syncEvery) {
      const a = docs[Math.floor(random() * docs.length)]
      const b = docs[Math.floor(random() * docs.length)]
      if (a !== b) Y.applyUpdate(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(b)), 'remote')
    }
    if (step === Math.floor(steps / 2)) docs.forEach(d => diffStates.push({ sv: Y.encodeStateVector(d), base: Y.encodeStateAsUpdate(d) }))
  }
  docs.forEach(doc => updates.push(Y.encodeStateAsUpdate(doc)))
  const merged = Y.mergeUpdates(updates)
  const reference = new Y.Doc()
  updates.forEach(update => Y.applyUpdate(reference, update))
  const partialMerges = []
  for (let i = 0; i < 4; i++) {
    const indices = updates.map((_, j) => j).filter(() => random() < 0.4)
    for (let j = indices.length - 1; j > 0; j--) {
      const k = Math.floor(random() * (j + 1));
      [indices[j], indices[k]] = [indices[k], indices[j]]
    }
    if (indices.length > 1) partialMerges.push({ indices, merged: hex(Y.mergeUpdates(indices.map(j => updates[j]))) })
  }
  diffStates.push({ sv: new Uint8Array([0]), base: new Uint8Array([0, 0]) })
  return {
    name,
    source: 'yjs',
    updates: updates.map(hex),
    state_vectors: updates.map(u => hex(Y.encodeStateVectorFromUpdate(u))),
    merged: hex(merged),
    merged_state_vector: hex(Y.encodeStateVectorFromUpdate(merged)),
    partial_merges: partialMerges,
    diffs: diffStates.map(({ sv, base }) => ({ state_vector: hex(sv), base: hex(base), diff: hex(Y.diffUpdate(merged, sv)) })),
    json: documentJSON(reference)
  }
}

const textKinds = ['insert', 'insert', 'insert', 'delete', 'delete']
const richKinds = [...textKinds, 'format', 'embed']
const mapKinds = ['map-set', 'map-set', 'map-delete', 'map-nested']
const arrayKinds = ['array-insert', 'array-insert', 'array-delete', 'array-type']
const sessions = [
  { name: 'one client typing and deleting', seed: 1, clients: [1], steps: 40, kinds: textKinds, syncEvery: 0 },
  { name: 'three clients typing concurrently, syncing sometimes', seed: 2, clients: [11, 22, 33], steps: 80, kinds: textKinds, syncEvery: 0.2 },
  { name: 'rich text: formatting and embeds', seed: 3, clients: [7, 8], steps: 60, kinds: richKinds, syncEvery: 0.3 },
  { name: 'maps with nested text', seed: 4, clients: [100, 200], steps: 50, kinds: mapKinds, syncEvery: 0.3 },
  { name: 'arrays of values and nested maps', seed: 5, clients: [5, 6, 9], steps: 60, kinds: arrayKinds, syncEvery: 0.25 },
  { name: 'everything, never synced until the end', seed: 6, clients: [41, 42], steps: 70, kinds: [...richKinds, ...mapKinds, ...arrayKinds], syncEvery: 0 },
  { name: 'everything, large client ids', seed: 7, clients: [4294967295, 2147483648, 3], steps: 90, kinds: [...richKinds, ...mapKinds, ...arrayKinds], syncEvery: 0.4 },
  { name: 'heavy deletion (garbage-collected runs)', seed: 8, clients: [12, 13], steps: 80, kinds: ['insert', 'delete', 'delete', 'delete', 'array-insert', 'array-delete', 'array-delete'], syncEvery: 0.3 },
  { name: 'emoji-heavy text split inside surrogate pairs', seed: 9, clients: [70, 71], steps: 60, kinds: textKinds, syncEvery: 0.5 },
  { name: 'long session, four clients', seed: 10, clients: [1001, 1002, 1003, 1004], steps: 200, kinds: [...richKinds, ...mapKinds, ...arrayKinds], syncEvery: 0.3 }
]

const output = process.argv[2] || join(dirname(fileURLToPath(import.meta.url)), 'yjs_vectors.json')
writeFileSync(output, JSON.stringify(sessions.map(session), null, 1) + '\n')
