// The layers of src/, bottom to top, and the rule that keeps them layers: a module imports only from
// its own layer or one below it, and no files import each other in a circle (in src/ or web/). The
// order is written here once; the README's "Where things live" lists the folders in the same order,
// and a test below holds the two together.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const ROOT = path.resolve(import.meta.dirname, '..');

/** Bottom to top. A path ending in "/" is a folder; a file is named whole. */
export const LAYERS: [name: string, paths: string[]][] = [
  ['model', ['src/model/', 'src/errors.ts', 'src/semconv.ts', 'src/threads.ts']],
  ['config', ['src/config/', 'src/yaml.ts']],
  ['otlp', ['src/otlp/']],
  ['store', ['src/store/']],
  ['query', ['src/query/']],
  ['alerts', ['src/alerts/']],
  ['loadtest', ['src/loadtest/']],
  ['lab', ['src/lab/']],
  ['exporters', ['src/exporters/']],
  ['sdk', ['src/sdk/']],
  ['instrument', ['src/instrument/']],
  ['collectors', ['src/collectors/']],
  ['ingest', ['src/ingest/']],
  ['analyzers', ['src/analyzers/']],
  ['optimize', ['src/optimize/']],
  ['dashboards', ['src/dashboards/']],
  ['server', ['src/server/']],
  ['entries', ['src/cli/', 'src/index.ts', 'src/sdk.ts']],
];

function layerOf(file: string): number {
  return LAYERS.findIndex(([, paths]) => paths.some((p) => (p.endsWith('/') ? file.startsWith(p) : file === p)));
}

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) out.push(...sources(rel));
    else if (/\.tsx?$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

/** Every relative import of a file (static, dynamic, type-only, re-export), resolved to a source path. */
function importsOf(file: string): string[] {
  const info = ts.preProcessFile(fs.readFileSync(path.join(ROOT, file), 'utf8'), true, true);
  const out: string[] = [];
  for (const { fileName } of info.importedFiles) {
    if (!fileName.startsWith('.')) continue;
    const base = path.posix.join(path.posix.dirname(file), fileName).replace(/\.js$/, '');
    const hit = [`${base}.ts`, `${base}.tsx`, `${base}/index.ts`, base].find((c) => fs.existsSync(path.join(ROOT, c)) && fs.statSync(path.join(ROOT, c)).isFile());
    if (hit) out.push(hit);
  }
  return out;
}

export type Graph = Map<string, string[]>;

function graphOf(dir: string): Graph {
  return new Map(sources(dir).map((f) => [f, importsOf(f)]));
}

/** Imports that point to a higher layer, and files that no layer names. */
export function upward(graph: Graph): string[] {
  const out: string[] = [];
  for (const [file, imports] of graph) {
    const own = layerOf(file);
    if (own < 0) {
      out.push(`${file} is in no layer: add it to LAYERS in test/architecture.test.ts and to the README`);
      continue;
    }
    for (const target of imports) {
      const theirs = layerOf(target);
      if (theirs > own) out.push(`${file} (${LAYERS[own][0]}) imports ${target} (${LAYERS[theirs][0]}), a layer above`);
    }
  }
  return out;
}

/** Each circle of imports once, as the files on it. */
export function circles(graph: Graph): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (f: string) => {
    state.set(f, 'open');
    stack.push(f);
    for (const g of graph.get(f) ?? []) {
      if (state.get(g) === 'open') found.push(stack.slice(stack.indexOf(g)));
      else if (!state.has(g)) visit(g);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of [...graph.keys()].sort()) if (!state.has(f)) visit(f);
  return found;
}

test('no module in src/ imports from a layer above its own', () => {
  const graph = graphOf('src');
  assert.ok(graph.size > 100, `read ${graph.size} files`);
  assert.deepEqual(upward(graph), []);
});

test('no files import each other in a circle, in src/ or in the dashboard (web/src/)', () => {
  assert.deepEqual(circles(graphOf('src')), []);
  assert.deepEqual(circles(graphOf('web/src')), []);
});

test('the checks see an upward import, a file in no layer, and a circle', () => {
  const graph: Graph = new Map([
    ['src/store/store.ts', ['src/model/metrics.ts', 'src/server/app.ts']],
    ['src/server/app.ts', ['src/store/store.ts']],
    ['src/newroom/x.ts', []],
  ]);
  assert.deepEqual(upward(graph), [
    'src/store/store.ts (store) imports src/server/app.ts (server), a layer above',
    'src/newroom/x.ts is in no layer: add it to LAYERS in test/architecture.test.ts and to the README',
  ]);
  assert.deepEqual(circles(graph), [['src/server/app.ts', 'src/store/store.ts']]);
  // what the real files import is read, type-only and dynamic imports included
  assert.ok(importsOf('src/sdk/performance-service.ts').includes('src/query/metrics.ts'));
  assert.deepEqual(importsOf('src/store/open.ts').sort(), ['src/config/schema.ts', 'src/store/postgres.ts', 'src/store/sqlite.ts', 'src/store/store.ts']);
});

test("the README's layout lists the layers in this order", () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const block = readme.slice(readme.indexOf('## Where things live'));
  const listed = [...block.matchAll(/^(src\/[\w./-]+)/gm)].map((m) => m[1]);
  const expected = LAYERS.flatMap(([, paths]) => paths);
  assert.deepEqual(
    listed.filter((p) => expected.includes(p)),
    expected,
    'README.md "Where things live" names every layer path, bottom to top',
  );
});
