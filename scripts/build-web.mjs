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
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
});

const outputs = Object.keys(result.metafile.outputs).map((f) => path.resolve(f));
const js = outputs.find((f) => f.endsWith('.js'));
const css = outputs.find((f) => f.endsWith('.css'));
const html = fs.readFileSync(path.join(root, 'index.html'), 'utf8').replace('%JS%', path.basename(js)).replace('%CSS%', path.basename(css));
fs.writeFileSync(path.join(out, 'index.html'), html);

let jsGzip = 0;
for (const f of [js, css]) {
  const body = fs.readFileSync(f);
  const gz = zlib.gzipSync(body, { level: 9 });
  fs.writeFileSync(`${f}.gz`, gz);
  fs.writeFileSync(`${f}.br`, zlib.brotliCompressSync(body, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }));
  if (f === js) jsGzip = gz.length;
  console.log(`web: ${path.relative(process.cwd(), f)} ${(body.length / 1024).toFixed(1)} KB, ${(gz.length / 1024).toFixed(1)} KB gzipped`);
}
if (jsGzip > BUDGET_GZIP) {
  console.error(`web: the initial JavaScript is ${(jsGzip / 1024).toFixed(1)} KB gzipped, over the 150 KB budget`);
  process.exit(1);
}
