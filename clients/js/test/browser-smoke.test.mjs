// A real-browser smoke check (headless Chromium over the DevTools protocol, scripts/browser-smoke.mjs): the IIFE
// bundle and the ES module publish and receive over each transport in a page served by the hub. Skipped where
// Chromium is not installed; the full browser suite (faults, tabs, restarts) is a separate, later test layer.

import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const hasChromium = spawnSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).status === 0;

test('in Chromium, both bundles publish and receive over websocket, sse and poll', { skip: !hasChromium && 'chromium is not installed' }, async () => {
  const script = fileURLToPath(new URL('../scripts/browser-smoke.mjs', import.meta.url));
  const child = spawn(process.execPath, ['--experimental-websocket', '--no-warnings', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const code = await new Promise((resolve) => child.once('exit', resolve));
  assert.equal(code, 0, output);
  assert.match(output, /browser smoke: OK/);
});
