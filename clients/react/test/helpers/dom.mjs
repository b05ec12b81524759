// A browser-like document for React DOM (jsdom), act(), and small helpers shared by the tests. React DOM must see
// `window` when it loads, hence the dynamic imports after the globals are set.

import { JSDOM } from 'jsdom';

const dom = new JSDOM('<!doctype html><html><body></body></html>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
globalThis.navigator ??= dom.window.navigator;
// Tells React that updates are expected inside act() (React 18).
globalThis.IS_REACT_ACT_ENVIRONMENT = true;

const React = (await import('react')).default;
const { createRoot } = await import('react-dom/client');
const { act } = await import('react-dom/test-utils');

export { React, act };
export const h = React.createElement;

/** Mounts `element` (inside StrictMode with `strict`) in a fresh container. */
export async function render(element, { strict = false } = {}) {
  const container = document.createElement('div');
  document.body.appendChild(container);
  const root = createRoot(container);
  await act(async () => root.render(strict ? h(React.StrictMode, null, element) : element));
  return {
    container,
    text: () => container.textContent,
    /** Texts of the elements matching `selector`, in document order. */
    all: (selector) => [...container.querySelectorAll(selector)].map((node) => node.textContent),
    rerender: (next) => act(async () => root.render(strict ? h(React.StrictMode, null, next) : next)),
    unmount: async () => {
      await act(async () => root.unmount());
      container.remove();
    },
  };
}

/** Runs one animation frame of a FakeAnimationFrames inside act (React renders what the frame flushed). */
export async function runFrame(frames) {
  await act(async () => frames.runFrame());
}

/** Counts calls; a component calls it on every render. */
export function renderCounter() {
  const counter = () => counter.count++;
  counter.count = 0;
  return counter;
}
