// Both packages as a React team gets them: `npm pack` tarballs installed offline into a fresh project outside this
// repository, then imported from an ES module and from CommonJS in Node. React comes from Debian (the app's own
// copy, as a peer dependency), linked into the project's node_modules.

import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const clients = fileURLToPath(new URL('../../', import.meta.url));
const packages = { client: path.join(clients, 'js'), react: path.join(clients, 'react') };
const npmFlags = ['--offline', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'];

const work = mkdtempSync(path.join(tmpdir(), 'sb-pack-'));
test.after(() => rmSync(work, { recursive: true, force: true }));

function npm(args, cwd) {
  // A cache of our own: nothing from the user's npm cache or registry settings takes part.
  return execFileSync('npm', [...args, `--cache=${path.join(work, 'npm-cache')}`], { cwd, encoding: 'utf8', env: cleanEnv() });
}

function cleanEnv() {
  const env = { ...process.env };
  delete env.NODE_PATH;
  for (const key of Object.keys(env)) if (key.toLowerCase().startsWith('npm_config_')) delete env[key];
  return env;
}

const packed = {};
function pack(name) {
  if (!packed[name]) {
    const [report] = JSON.parse(npm(['pack', packages[name], `--pack-destination=${work}`, '--json', ...npmFlags], work));
    packed[name] = { file: path.join(work, report.filename), files: report.files.map((entry) => entry.path), report };
  }
  return packed[name];
}

function manifest(name) {
  return JSON.parse(readFileSync(path.join(packages[name], 'package.json'), 'utf8'));
}

for (const name of ['client', 'react']) {
  test(`@switchboard/${name} is publishable: MIT, versioned, side-effect free, exports types/import/require`, () => {
    const json = manifest(name);
    assert.equal(json.private, undefined, 'not private');
    assert.equal(json.license, 'MIT');
    assert.match(json.version, /^\d+\.\d+\.\d+$/);
    assert.equal(json.sideEffects, false);
    assert.deepEqual(json.files, ['dist', 'README.md', 'LICENSE']);
    for (const entry of ['.', './testing']) {
      const conditions = json.exports[entry];
      assert.ok(conditions.import.types.endsWith('.d.ts') && conditions.import.default.endsWith('.mjs'), `${entry} import`);
      assert.ok(conditions.require.types.endsWith('.d.ts') && conditions.require.default.endsWith('.cjs'), `${entry} require`);
    }
    assert.ok(json.devDependencies.typescript && json.devDependencies.esbuild, 'the build tools are devDependencies');
  });

  test(`npm pack of @switchboard/${name} holds the build, README and LICENSE, and no sources`, () => {
    const { files } = pack(name);
    for (const required of ['LICENSE', 'README.md', 'package.json']) assert.ok(files.includes(required), required);
    const json = manifest(name);
    for (const conditions of [json.exports['.'], json.exports['./testing']]) {
      for (const target of [conditions.import.types, conditions.import.default, conditions.require.types, conditions.require.default]) {
        assert.ok(files.includes(target.replace(/^\.\//, '')), `${target} is in the tarball`);
      }
    }
    assert.deepEqual(files.filter((file) => file.startsWith('src/') || file.startsWith('test/') || file.includes('shim')), []);
    assert.match(readFileSync(path.join(packages[name], '..', '..', 'LICENSE'), 'utf8'), /^MIT License/);
  });

  test(`the README of @switchboard/${name} has an install step, a quick start of at most 15 lines, and links`, () => {
    const readme = readFileSync(path.join(packages[name], 'README.md'), 'utf8');
    const install = { client: /npm install @switchboard\/client\n/, react: /npm install @switchboard\/react @switchboard\/client react\n/ };
    assert.match(readme, install[name]);
    const quickStart = readme.split(/^## Quick start$/m)[1];
    assert.ok(quickStart, 'a "## Quick start" section');
    const code = quickStart.match(/```[a-z]*\n([\s\S]*?)```/)[1].trimEnd().split('\n');
    assert.ok(code.length <= 15, `quick start is ${code.length} lines`);
    assert.match(readme, /\]\(https?:|\]\(\.\.\/\.\.\/docs\//, 'links to the documentation');
  });
}

test('the React entry points start with "use client" (ES module and CommonJS)', () => {
  for (const file of ['dist/switchboard-react.mjs', 'dist/cjs/switchboard-react.cjs', 'dist/testing.mjs']) {
    const firstLine = readFileSync(path.join(packages.react, file), 'utf8').split('\n')[0];
    assert.equal(firstLine, '"use client";', file);
  }
});

test('the React package declares react >= 18 and the client as peer dependencies, not as dependencies', () => {
  const json = manifest('react');
  assert.equal(json.peerDependencies.react, '>=18');
  assert.equal(json.peerDependencies['@switchboard/client'], `^${manifest('client').version}`);
  assert.equal(json.dependencies, undefined);
});

test('a fresh project installs both tarballs offline and imports them from ESM and from CommonJS', () => {
  const app = path.join(work, 'app');
  execFileSync('mkdir', ['-p', app]);
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'fresh-app', version: '1.0.0', private: true }));
  // --legacy-peer-deps: npm would otherwise try to fetch react; the app brings its own (Debian's, linked below).
  npm(['install', pack('client').file, pack('react').file, '--legacy-peer-deps', ...npmFlags], app);
  for (const dependency of ['react', 'react-dom', 'scheduler']) {
    symlinkSync(`/usr/share/nodejs/${dependency}`, path.join(app, 'node_modules', dependency));
  }
  const installed = JSON.parse(readFileSync(path.join(app, 'node_modules/@switchboard/react/package.json'), 'utf8'));
  assert.equal(installed.version, manifest('react').version);

  const component = `
    function Feed() {
      const { status, publications } = useChannel('news');
      return h('p', null, status + ':' + publications.length);
    }
    const html = renderToString(h(SwitchboardProvider, { url: 'http://hub.test' }, h(Feed)));
    console.log(JSON.stringify({ html, client: typeof createClient, fake: typeof FakeServer, kit: typeof FakeAnimationFrames }));
  `;
  writeFileSync(
    path.join(app, 'esm.mjs'),
    `import { createClient } from '@switchboard/client';
     import { FakeServer } from '@switchboard/client/testing';
     import { SwitchboardProvider, useChannel } from '@switchboard/react';
     import { FakeAnimationFrames } from '@switchboard/react/testing';
     import { createElement as h } from 'react';
     import { renderToString } from 'react-dom/server';
     ${component}`,
  );
  writeFileSync(
    path.join(app, 'cjs.cjs'),
    `const { createClient } = require('@switchboard/client');
     const { FakeServer } = require('@switchboard/client/testing');
     const { SwitchboardProvider, useChannel } = require('@switchboard/react');
     const { FakeAnimationFrames } = require('@switchboard/react/testing');
     const { createElement: h } = require('react');
     const { renderToString } = require('react-dom/server');
     ${component}`,
  );
  // Debian's react-dom finds its own react through NODE_PATH (its files live outside the project).
  const env = { ...cleanEnv(), NODE_PATH: '/usr/share/nodejs' };
  for (const entry of ['esm.mjs', 'cjs.cjs']) {
    const output = JSON.parse(execFileSync(process.execPath, [entry], { cwd: app, encoding: 'utf8', env }));
    assert.deepEqual(output, { html: '<p>idle:0</p>', client: 'function', fake: 'function', kit: 'function' }, entry);
  }
  // The CommonJS entry really is the CommonJS build (not the ES module through require(esm)).
  const resolved = execFileSync(process.execPath, ['-p', "require.resolve('@switchboard/react')"], { cwd: app, encoding: 'utf8', env });
  assert.match(resolved.trim(), /dist\/cjs\/switchboard-react\.cjs$/);
});
