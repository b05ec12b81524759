// Binds a <textarea> to a Y.Text, both ways: typing becomes the smallest delete + insert on the Y.Text (one
// transaction, with this binding as its origin); a remote change rewrites the textarea and moves the local selection
// through the change's delta, so the caret stays where it was in the text around it. No dependencies but Yjs.

/** The one edit turning `before` into `after`: where, how many characters went, what came in. */
export function textDiff(before, after) {
  const shorter = Math.min(before.length, after.length);
  let prefix = 0;
  while (prefix < shorter && before[prefix] === after[prefix]) prefix++;
  let suffix = 0;
  while (suffix < shorter - prefix && before[before.length - 1 - suffix] === after[after.length - 1 - suffix]) suffix++;
  return { index: prefix, removed: before.length - prefix - suffix, inserted: after.slice(prefix, after.length - suffix) };
}

/** `offset` moved through a Yjs text delta (retain / insert / delete): text inserted before it pushes it right. */
export function moveThroughDelta(offset, delta) {
  let position = 0;
  let moved = offset;
  for (const op of delta) {
    if (op.retain !== undefined) {
      position += op.retain;
    } else if (op.insert !== undefined) {
      const length = typeof op.insert === 'string' ? op.insert.length : 1;
      if (position < moved) moved += length;
      position += length;
    } else if (op.delete !== undefined) {
      if (position < moved) moved -= Math.min(op.delete, moved - position);
    }
    if (position > moved) break;
  }
  return moved;
}

/**
 * Keeps `textarea` and `ytext` equal. Returns `destroy()`, which removes both listeners.
 * @param {import('yjs').Text} ytext
 * @param {HTMLTextAreaElement} textarea
 */
export function bindTextarea(ytext, textarea) {
  const origin = { binding: 'textarea' };
  let shown = ytext.toString();
  textarea.value = shown;

  const onInput = () => {
    const { index, removed, inserted } = textDiff(shown, textarea.value);
    shown = textarea.value;
    if (removed === 0 && inserted === '') return;
    ytext.doc.transact(() => {
      if (removed > 0) ytext.delete(index, removed);
      if (inserted !== '') ytext.insert(index, inserted);
    }, origin);
  };

  const onChange = (event, transaction) => {
    if (transaction.origin === origin) return;
    const start = moveThroughDelta(textarea.selectionStart, event.delta);
    const end = moveThroughDelta(textarea.selectionEnd, event.delta);
    shown = ytext.toString();
    textarea.value = shown;
    if (document.activeElement === textarea) textarea.setSelectionRange(start, end);
  };

  textarea.addEventListener('input', onInput);
  ytext.observe(onChange);
  return () => {
    textarea.removeEventListener('input', onInput);
    ytext.unobserve(onChange);
  };
}
