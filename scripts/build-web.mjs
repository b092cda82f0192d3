#!/usr/bin/env node
// Bundles the dashboard (web/src) into web/dist: index.html plus content-hashed JS and CSS under
// assets/, each also pre-compressed with brotli and gzip. Prints the sizes; fails when the initial
// JavaScript is over the 150 KB gzipped budget (issue 6).
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'web');
const out = path.join(root, 'dist');
const BUDGET_GZIP = 150 * 1024;

fs.rmSync(out, { recursive: true, force: true });
const result = await esbuild.build({
  entryPoints: [path.join(root, 'src', 'main.tsx')],
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['chrome110', 'firefox110', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  outdir: path.join(out, 'assets'),
  entryNames: 'app-[hash]',
  // the overview is in the entry; the other pages are chunks loaded when opened
  splitting: true,
  chunkNames: 'page-[hash]',
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
});

const outputs = Object.keys(result.metafile.outputs).map((f) => path.resolve(f));
const js = outputs.find((f) => path.basename(f).startsWith('app-') && f.endsWith('.js'));
const css = outputs.find((f) => f.endsWith('.css'));
// what the entry imports statically loads with it: that is the initial JavaScript
const entry = result.metafile.outputs[path.relative(process.cwd(), js)];
const initial = [js, ...entry.imports.filter((i) => i.kind === 'import-statement').map((i) => path.resolve(i.path))];

// the entry's static imports are fetched in parallel with it, not after it
const preload = initial.slice(1).map((f) => `<link rel="modulepreload" href="/assets/${path.basename(f)}">`).join('\n');
const html = fs.readFileSync(path.join(root, 'index.html'), 'utf8').replace('%JS%', path.basename(js)).replace('%CSS%', path.basename(css)).replace('%PRELOAD%', preload);
fs.writeFileSync(path.join(out, 'index.html'), html);

let jsGzip = 0;
let allGzip = 0;
for (const f of outputs) {
  const body = fs.readFileSync(f);
  const gz = zlib.gzipSync(body, { level: 9 });
  fs.writeFileSync(`${f}.gz`, gz);
  fs.writeFileSync(`${f}.br`, zlib.brotliCompressSync(body, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }));
  if (initial.includes(f)) jsGzip += gz.length;
  if (f.endsWith('.js')) allGzip += gz.length;
}
console.log(`web: ${outputs.length} files in web/dist/assets; initial JavaScript ${(jsGzip / 1024).toFixed(1)} KB gzipped (${initial.length} file(s)), all pages ${(allGzip / 1024).toFixed(1)} KB; CSS ${(fs.statSync(`${css}.gz`).size / 1024).toFixed(1)} KB gzipped`);
if (jsGzip > BUDGET_GZIP) {
  console.error(`web: the initial JavaScript is ${(jsGzip / 1024).toFixed(1)} KB gzipped, over the 150 KB budget`);
  process.exit(1);
}
