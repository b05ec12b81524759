#!/usr/bin/env python3
"""Writes pycrdt_vectors.json: randomized editing sessions recorded by pycrdt (Rust's yrs), the second, independent
oracle for the Swift update utilities (Sources/SwitchboardYjs). Deterministic: fixed seeds and client ids.

Usage: generate_vectors.py [OUTPUT]   (default: pycrdt_vectors.json next to this script)

Each session has the fields of tests/yjs/generate_vectors.mjs, computed with pycrdt instead of Yjs:
  updates        every update the clients emitted for their own edits, then each client's full state, hex
  state_vectors  pycrdt.get_state(update) of each update, hex (yrs may list clients in another order than Yjs)
  merged         pycrdt.merge_updates(*updates), hex (yrs writes it differently from Yjs; compare documents, not bytes)
  partial_merges {indices, merged}: merges of shuffled subsets
  diffs          {state_vector, base, diff}: a client's state vector part-way through, its whole state then, and
                 pycrdt.get_update(merged, state_vector); base + diff is the whole document
  json           the document after applying every update: text as a delta, the map and the array as Python values
"""

import json
import pathlib
import random
import sys

import pycrdt
from pycrdt import Array, Doc, Map, Text

WORDS = ["a", "bc", "def", "héllo", "ünï", "😀", "x😀y", "日本語", "\n", "  ", "Ω≈ç√"]
# Text edits use ASCII only: pycrdt 0.14's text indexes disagree with yrs's after a multi-byte character ("héllo日本語":
# deleting index 7 panics in yrs). Multi-byte strings still appear as map and array values. The Yjs vectors cover
# multi-byte and astral text, including splits inside surrogate pairs.
TEXT_WORDS = [w for w in WORDS if w.isascii()]


def value(rng):
    pick = rng.randrange(9)
    return [
        rng.randrange(1000) - 500,
        rng.random() * 1e6,
        rng.choice(WORDS),
        rng.random() < 0.5,
        None,
        # One key only: yrs keeps an object's keys in a hash map, so several keys come out in a different order on
        # every run and the vectors would not regenerate identically.
        {"nested": [rng.randrange(10), "two", None]},
        [rng.randrange(5), "x", [True]],
        bytes([1, 2, rng.randrange(256)]),
        -0.25,
    ][pick]


def text_length(text):
    """The text's length in code points, embeds counting one (pycrdt's len() counts UTF-8 bytes)."""
    return sum(len(insert) if isinstance(insert, str) else 1 for insert, _ in text.diff())


def edit(doc, rng, kinds):
    text, map_, array = doc["text"], doc["map"], doc["array"]
    length = text_length(text)
    kind = rng.choice(kinds)
    if kind == "insert":
        attributes = {"bold": True} if rng.random() < 0.2 else None
        text.insert(rng.randrange(length + 1), rng.choice(TEXT_WORDS), attributes)
    elif kind == "delete" and length > 0:
        at = rng.randrange(length)
        del text[at : min(length, at + 1 + rng.randrange(4))]
    elif kind == "format" and length > 0:
        at = rng.randrange(length)
        attributes = rng.choice([{"bold": True}, {"italic": True}, {"bold": None}, {"color": "#ff0000"}])
        text.format(at, min(length, at + 1 + rng.randrange(5)), attributes)
    elif kind == "embed":
        text.insert_embed(rng.randrange(length + 1), {"image": "pic.png"})
    elif kind == "map-set":
        map_[rng.choice("abcd")] = value(rng)
    elif kind == "map-delete":
        key = rng.choice("abcd")
        if key in map_:
            del map_[key]
    elif kind == "map-nested":
        map_["doc"] = Text("inner text")
    elif kind == "array-insert":
        at = rng.randrange(len(array) + 1)
        for offset in range(1 + rng.randrange(3)):
            array.insert(at + offset, value(rng))
    elif kind == "array-delete" and len(array) > 0:
        at = rng.randrange(len(array))
        del array[at : min(len(array), at + 1 + rng.randrange(3))]
    elif kind == "array-type":
        array.insert(rng.randrange(len(array) + 1), Map({"x": 1}))


def plain(v):
    """JSON-able form of a document value (bytes as hex)."""
    if isinstance(v, (bytes, bytearray)):
        return {"binary": bytes(v).hex()}
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [plain(x) for x in v]
    return v


def document_json(doc):
    delta = [{"insert": plain(insert), **({"attributes": attrs} if attrs else {})} for insert, attrs in doc["text"].diff()]
    return {"text": delta, "map": plain(doc["map"].to_py()), "array": plain(doc["array"].to_py())}


def new_doc(client_id):
    doc = Doc(client_id=client_id)
    doc["text"], doc["map"], doc["array"] = Text(), Map(), Array()
    return doc


def session(name, seed, clients, steps, kinds, sync_every):
    rng = random.Random(seed)
    docs = [new_doc(client) for client in clients]
    updates, mid_states, syncing = [], [], [False]
    for doc in docs:
        doc.observe(lambda event: None if syncing[0] else updates.append(event.update))
    for step in range(steps):
        edit(rng.choice(docs), rng, kinds)
        if rng.random() < sync_every:
            a, b = rng.choice(docs), rng.choice(docs)
            if a is not b:
                syncing[0] = True
                b.apply_update(a.get_update(b.get_state()))
                syncing[0] = False
        if step == steps // 2:
            mid_states += [(doc.get_state(), doc.get_update()) for doc in docs]
    # Each client's full state, with its garbage-collected deletes (creating the root types emits nothing).
    updates += [doc.get_update() for doc in docs]
    updates = [u for u in updates if u != b"\x00\x00"]
    merged = pycrdt.merge_updates(*updates)
    reference = new_doc(999)
    for update in updates:
        reference.apply_update(update)
    partial_merges = []
    for _ in range(4):
        indices = [j for j in range(len(updates)) if rng.random() < 0.4]
        rng.shuffle(indices)
        if len(indices) > 1:
            partial_merges.append({"indices": indices, "merged": pycrdt.merge_updates(*[updates[j] for j in indices]).hex()})
    mid_states.append((b"\x00", b"\x00\x00"))
    return {
        "name": name,
        "source": "pycrdt",
        "updates": [u.hex() for u in updates],
        "state_vectors": [pycrdt.get_state(u).hex() for u in updates],
        "merged": merged.hex(),
        "merged_state_vector": pycrdt.get_state(merged).hex(),
        "partial_merges": partial_merges,
        "diffs": [{"state_vector": sv.hex(), "base": base.hex(), "diff": pycrdt.get_update(merged, sv).hex()} for sv, base in mid_states],
        "json": document_json(reference),
    }


TEXT = ["insert", "insert", "insert", "delete", "delete"]
RICH = TEXT + ["format", "embed"]
MAPS = ["map-set", "map-set", "map-delete", "map-nested"]
ARRAYS = ["array-insert", "array-insert", "array-delete", "array-type"]
SESSIONS = [
    ("one client typing and deleting", 1, [1], 40, TEXT, 0),
    ("three clients typing concurrently, syncing sometimes", 2, [11, 22, 33], 80, TEXT, 0.2),
    ("rich text: formatting and embeds", 3, [7, 8], 60, RICH, 0.3),
    ("maps with nested text", 4, [100, 200], 50, MAPS, 0.3),
    ("arrays of values and nested maps", 5, [5, 6, 9], 60, ARRAYS, 0.25),
    ("everything, large client ids", 7, [4294967295, 2147483648, 3], 90, RICH + MAPS + ARRAYS, 0.4),
    ("heavy deletion (garbage-collected runs)", 8, [12, 13], 80, ["insert", "delete", "delete", "delete", "array-insert", "array-delete"], 0.3),
    ("long session, four clients", 10, [1001, 1002, 1003, 1004], 150, RICH + MAPS + ARRAYS, 0.3),
]


def main():
    output = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else pathlib.Path(__file__).with_name("pycrdt_vectors.json")
    output.write_text(json.dumps([session(*s) for s in SESSIONS], indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
