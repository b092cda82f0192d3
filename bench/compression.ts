// Response compression: what it costs per response, ours (the optimization middleware's
// `compression` setting) beside the `compression` package Express users install, same run.
//   node --import tsx bench/compression.ts [seconds-per-round] [rounds]
// 1. Brotli quality 4 (both use it) per body size, on the event loop vs through libuv's thread
//    pool: the middleware compresses bodies up to 64 KiB synchronously because of this.
// 2. An Express route answering 3 KB of JSON and one answering 30 KB of HTML, at a fixed 200
//    requests/s (4 connections, the load generator in a worker thread): median and p95 latency
//    and bytes per response, uncompressed / ours / `compression`. Interleaved rounds; medians.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import compressionPackage from 'compression';
import express from 'express';
import { optimizationMiddleware } from '../src/optimize/middleware.js';
import { parseScenario } from '../src/loadtest/scenario.js';
import { histogramOf, runPhase } from '../src/loadtest/runner.js';
import { fmt, machine, median, save, table } from './lib.js';

const SECONDS = Number(process.argv[2] ?? 4);
const ROUNDS = Number(process.argv[3] ?? 5);
const log = (m: string) => process.stderr.write(`${m}\n`);

// --- 1. per body -------------------------------------------------------------------------------
const brotli = promisify(zlib.brotliCompress);
const jsonOf = (bytes: number) => Buffer.from(JSON.stringify(Array.from({ length: Math.ceil(bytes / 40) }, (_, i) => ({ id: i, name: `product ${i}`, price: (i * 7919) % 10_000 }))).slice(0, bytes));
const opts = (n: number) => ({ params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: n } });
const perBody: (string | number)[][] = [];
const perBodyResult: { bytes: number; syncUs: number; poolUs: number; ratio: number }[] = [];
for (const bytes of [3_000, 30_000, 300_000]) {
  const body = jsonOf(bytes);
  const o = opts(body.length);
  const n = bytes > 100_000 ? 50 : 300;
  const sync: number[] = [];
  const pool: number[] = [];
  for (let r = 0; r < 7; r++) {
    let t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) zlib.brotliCompressSync(body, o);
    sync.push(Number(process.hrtime.bigint() - t) / n / 1e3);
    t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await brotli(body, o);
    pool.push(Number(process.hrtime.bigint() - t) / n / 1e3);
  }
  const ratio = zlib.brotliCompressSync(body, o).length / body.length;
  perBodyResult.push({ bytes, syncUs: median(sync.slice(1)), poolUs: median(pool.slice(1)), ratio });
  perBody.push([`${bytes.toLocaleString('en')} B JSON`, fmt(median(sync.slice(1)), 0), fmt(median(pool.slice(1)), 0), fmt(ratio * 100, 0) + '%']);
}
console.log('Brotli quality 4, µs per body (median of 6 rounds):\n');
console.log(table(['body', 'on the event loop', 'through the thread pool', 'compressed size'], perBody));

// --- 2. end to end -----------------------------------------------------------------------------
const JSON_BODY = jsonOf(3_000).toString();
const HTML_BODY = `<!doctype html><html><body><ul>${Array.from({ length: 400 }, (_, i) => `<li class="product"><a href="/products/${i}">Running shoe ${i}</a> <span>${(i * 7919) % 10_000} ct</span></li>`).join('')}</ul></body></html>`.slice(0, 30_000);

async function app(kind: 'none' | 'ours' | 'package'): Promise<{ url: string; close: () => Promise<void> }> {
  const a = express();
  let mw: ReturnType<typeof optimizationMiddleware> | undefined;
  if (kind === 'ours') {
    mw = optimizationMiddleware({ source: { get: async () => ({ version: 1, entries: [{ id: 'bench', type: 'compression', enabled: true, params: { threshold: 1024, brotli: true } }] }), intervalMs: 60_000 } });
    await mw.refresh();
    a.use(mw);
  }
  if (kind === 'package') a.use(compressionPackage({ threshold: 1024 }));
  a.get('/json', (_req, res) => res.type('json').send(JSON_BODY));
  a.get('/html', (_req, res) => res.type('html').send(HTML_BODY));
  const server = http.createServer(a);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      mw?.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

const kinds = ['none', 'ours', 'package'] as const;
const label = { none: 'uncompressed', ours: 'solemate-performance (optimization middleware)', package: '`compression` 1.8 (Express)' };
const apps = Object.fromEntries(await Promise.all(kinds.map(async (k) => [k, await app(k)] as const))) as Record<(typeof kinds)[number], Awaited<ReturnType<typeof app>>>;
const headers = { 'accept-encoding': 'gzip, deflate, br' };
const rows: (string | number)[][] = [];
const result: Record<string, Record<string, { medianMs: number; p95Ms: number; bytes: number }>> = {};
for (const path of ['/json', '/html']) {
  const scenario = parseScenario(`name: c\nroutes:\n  - { path: "${path}", headers: ${JSON.stringify(headers)} }\n`);
  const got: Record<string, { med: number[]; p95: number[]; bytes: number[] }> = Object.fromEntries(kinds.map((k) => [k, { med: [], p95: [], bytes: [] }]));
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? kinds : [...kinds].reverse();
    for (const k of order) {
      const o = { target: apps[k].url, scenario, connections: 4, rate: 200, workers: 1, thread: true };
      await runPhase({ ...o, duration: 1 });
      const res = await runPhase({ ...o, duration: SECONDS });
      const h = histogramOf(res.latency);
      got[k].med.push(h.quantile(0.5));
      got[k].p95.push(h.quantile(0.95));
      got[k].bytes.push(res.requests ? res.bytes / res.requests : 0);
    }
    log(`${path} round ${r + 1}/${ROUNDS}`);
  }
  result[path] = {};
  for (const k of kinds) {
    const v = { medianMs: median(got[k].med), p95Ms: median(got[k].p95), bytes: median(got[k].bytes) };
    result[path][k] = v;
    rows.push([path === '/json' ? '3 KB JSON' : '30 KB HTML', label[k], fmt(v.medianMs, 2), fmt(v.p95Ms, 2), Math.round(v.bytes).toLocaleString('en')]);
  }
}
for (const a of Object.values(apps)) await a.close();
console.log(`\nAt 200 requests/s, ${ROUNDS} interleaved rounds of ${SECONDS} s (medians of the rounds):\n`);
console.log(table(['response', 'compression', 'median ms', 'p95 ms', 'bytes per response'], rows));
console.log(`\n${machine()}`);
save('compression', { seconds: SECONDS, rounds: ROUNDS, perBody: perBodyResult, endToEnd: result });
