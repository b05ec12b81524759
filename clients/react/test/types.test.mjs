// Types as an app gets them: a project outside this repository type-checks (tsc, strict, node16 resolution, no
// skipLibCheck) against the packages' emitted declarations (through their `exports`), with types/react.d.ts in place
// of @types/react. It checks typed payloads (test/types/*) and every code block of the docs, so that the docs cannot
// drift from the code.

import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const reactPackage = path.join(repo, 'clients/react');
const clientPackage = path.join(repo, 'clients/js');

/** The documents whose code blocks must compile, and what their blocks may use besides the packages. */
const DOCUMENTS = ['README.md', 'docs/client.md', 'docs/react.md', 'clients/js/README.md', 'clients/react/README.md'];
const LANGUAGES = { ts: 'ts', tsx: 'tsx', js: 'js', jsx: 'jsx' };

/**
 * Code blocks of a markdown file: ```ts, ```tsx, ```js and ```jsx fences, each with its first line number. A block
 * right after `<!-- not type-checked: why -->` is left out (the reason is in the docs for the reader too).
 */
export function codeBlocks(markdown) {
  const blocks = [];
  const lines = markdown.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const fence = /^```(\w+)$/.exec(lines[index]);
    if (!fence) continue;
    const end = lines.indexOf('```', index + 1);
    const skipped = index > 0 && /^<!-- not type-checked: .+ -->$/.test(lines[index - 1]);
    if (LANGUAGES[fence[1]] && !skipped) {
      blocks.push({ language: LANGUAGES[fence[1]], line: index + 2, code: lines.slice(index + 1, end).join('\n') });
    }
    index = end;
  }
  return blocks;
}

function typeCheck(files) {
  const project = mkdtempSync(path.join(tmpdir(), 'sb-types-'));
  try {
    mkdirSync(path.join(project, 'node_modules/@switchboard'), { recursive: true });
    symlinkSync(clientPackage, path.join(project, 'node_modules/@switchboard/client'));
    symlinkSync(reactPackage, path.join(project, 'node_modules/@switchboard/react'));
    writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'typed-app', private: true, type: 'module' }));
    copyFileSync(path.join(reactPackage, 'types/react.d.ts'), path.join(project, 'react-types.d.ts'));
    copyFileSync(path.join(reactPackage, 'test/types/docs-environment.d.ts'), path.join(project, 'docs-environment.d.ts'));
    for (const [name, text] of Object.entries(files)) writeFileSync(path.join(project, name), text);
    writeFileSync(
      path.join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'node16',
          moduleResolution: 'node16',
          lib: ['ES2022', 'DOM', 'DOM.Iterable'],
          jsx: 'react-jsx',
          strict: true,
          noEmit: true,
          allowJs: true,
          checkJs: true,
          skipLibCheck: false,
          types: [],
        },
        include: ['*.ts', '*.tsx', '*.cts', '*.js', '*.jsx'],
      }),
    );
    try {
      execFileSync('tsc', ['-p', '.'], { cwd: project, encoding: 'utf8' });
      return '';
    } catch (failure) {
      return String(failure.stdout);
    }
  } finally {
    rmSync(project, { recursive: true, force: true });
  }
}

test('typed payloads: useChannel<Message>, usePublish<T>, usePresence<Info>, useSignal<T>, typed errors, ESM and CommonJS', () => {
  const dir = path.join(reactPackage, 'test/types');
  const files = {};
  for (const name of readdirSync(dir)) if (/\.(tsx|cts)$/.test(name)) files[name] = readFileSync(path.join(dir, name), 'utf8');
  assert.equal(typeCheck(files), '');
});

test('a wrong payload type is a compile error (the check is not vacuous)', () => {
  const output = typeCheck({
    'wrong.ts': `import { usePublish } from '@switchboard/react';\nexport const send = () => usePublish<{ text: string }>('c')({ text: 1 });\n`,
  });
  assert.match(output, /wrong\.ts\(2,\d+\): error TS2322/);
});

test('every ts/tsx/js/jsx code block of the docs and READMEs compiles against the packages', () => {
  const files = {};
  const origin = {};
  let count = 0;
  for (const document of DOCUMENTS) {
    for (const block of codeBlocks(readFileSync(path.join(repo, document), 'utf8'))) {
      const name = `doc${++count}.${block.language}`;
      // Each block is a module of its own (top-level await allowed); ambient helpers come from docs-environment.d.ts.
      files[name] = `${block.code}\nexport {};\n`;
      origin[name] = `${document}:${block.line}`;
    }
  }
  assert.ok(count >= 10, `found ${count} blocks`);
  const output = typeCheck(files).replace(/doc\d+\.\w+\((\d+),(\d+)\)/g, (match, line, column) => {
    const name = match.slice(0, match.indexOf('('));
    const [document, start] = origin[name].split(':');
    return `${document}:${Number(start) + Number(line) - 1}:${column}`;
  });
  assert.equal(output, '', `docs code blocks that do not compile:\n${output}`);
});

test('the React type stand-in does not leak: emitted declarations declare no module and import only ReactElement/ReactNode', () => {
  for (const root of ['dist/types', 'dist/cjs/types']) {
    const dir = path.join(reactPackage, root);
    for (const file of readdirSync(dir, { recursive: true }).filter((name) => String(name).endsWith('.d.ts'))) {
      const text = readFileSync(path.join(dir, String(file)), 'utf8');
      assert.doesNotMatch(text, /declare module/, `${root}/${file}`);
      for (const match of text.matchAll(/import (?:type )?\{([^}]*)\} from 'react'/g)) {
        const names = match[1].split(',').map((name) => name.replace(/\btype\b/, '').trim()).filter(Boolean);
        assert.deepEqual(names.filter((name) => !['ReactElement', 'ReactNode'].includes(name)), [], `${root}/${file}`);
      }
    }
  }
  const packed = JSON.parse(readFileSync(path.join(reactPackage, 'package.json'), 'utf8')).files;
  assert.ok(!packed.includes('types'), 'types/react.d.ts is not published');
});
