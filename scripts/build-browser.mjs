#!/usr/bin/env node
// Builds solemate-performance/browser (browser/src) into browser/dist:
// - rum.js: the ES module, web-vitals left as an import (the app's bundler brings it once);
// - rum.iife.js: the script-tag form the server serves at /rum.js, web-vitals bundled in.
// Prints the gzipped sizes; fails when our own code is over 2 KB gzipped (issue 26).
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'browser');
const out = path.join(root, 'dist');
const BUDGET_GZIP = 2 * 1024;
const common = { bundle: true, minify: true, target: ['chrome100', 'firefox100', 'safari15'], legalComments: 'none', logLevel: 'warning' };

fs.rmSync(out, { recursive: true, force: true });
await esbuild.build({ ...common, entryPoints: [path.join(root, 'src', 'rum.ts')], format: 'esm', external: ['web-vitals', 'web-vitals/*'], outfile: path.join(out, 'rum.js') });
await esbuild.build({ ...common, entryPoints: [path.join(root, 'src', 'auto.ts')], format: 'iife', outfile: path.join(out, 'rum.iife.js') });
fs.copyFileSync(path.join(root, 'rum.d.ts'), path.join(out, 'rum.d.ts'));

const gz = (f) => zlib.gzipSync(fs.readFileSync(path.join(out, f)), { level: 9 }).length;
const own = gz('rum.js');
const whole = gz('rum.iife.js');
console.log(`browser: rum.js ${(own / 1024).toFixed(2)} KB gzipped (ours; budget ${BUDGET_GZIP / 1024} KB), rum.iife.js ${(whole / 1024).toFixed(2)} KB gzipped (with web-vitals)`);
if (own > BUDGET_GZIP) {
  console.error(`browser/dist/rum.js is over its budget: ${own} > ${BUDGET_GZIP} bytes gzipped`);
  process.exit(1);
}
