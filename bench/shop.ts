// The shop's product page under load, uninstrumented vs fully instrumented (metrics, request
// tracing, pg/ioredis/HTTP-client instrumentation, collectors), measured in the same run.
// Both shops share one PostgreSQL (DATABASE_URL, else an embedded one in .data/bench-shop-pg,
// seeded with 100k products once) and run pinned to core 0; wrk (random product ids) and
// PostgreSQL share core 1. Reported: req/s (median of interleaved pairs) and the shop process's
// CPU time per request, which does not depend on the load generator.
//   npm run build && node --import tsx bench/shop.ts [seconds-per-round] [rounds]
import { spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { loadConfig } from '../src/config/load.js';
import { createServer } from '../src/server/app.js';
import { openDatabase, prepare } from '../examples/solemate-shop/src/database.js';
import { parseFaults } from '../examples/solemate-shop/src/faults.js';
import { cpuMs, fmt, machine, median, PIN, pinned, requireWrk, save, table, wrk } from './lib.js';

const SECONDS = Number(process.argv[2] ?? 5);
const ROUNDS = Number(process.argv[3] ?? 8);
requireWrk('autocannon would compete with the shop for the CPU');
const log = (m: string) => process.stderr.write(`${m}\n`);

const db = await openDatabase({ url: process.env.DATABASE_URL, dataDir: '.data/bench-shop-pg', log });
// faults off: the product page's own work, not a fault, is what the overhead is compared with
await prepare(db.url, parseFaults('none'), { products: 100_000, log });
if (PIN && db.embedded) spawnSync('sh', ['-c', `for p in $(pgrep -f bench-shop-pg); do taskset -a -p -c 1 $p > /dev/null; done`]);
const perf = await createServer({ config: loadConfig({ env: {}, overrides: { server: { port: 0 }, store: { path: path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bench-shop-')), 'perf.db') } } }), logLevel: 'warn' });

// the shop and the SDK compiled by tsc, as they run in production (tsx's on-the-fly build adds
// a __name() call to every closure it creates, which would be measured too)
const built = spawnSync('npx', ['tsc', '-p', 'tsconfig.examples.json'], { stdio: 'inherit' });
if (built.status !== 0) throw new Error('tsc -p tsconfig.examples.json failed');

async function shop(instrument: boolean): Promise<{ child: ChildProcess; url: string }> {
  const env = { ...process.env, PORT: '0', DATABASE_URL: db.url, SHOP_FAULTS: 'none', SHOP_INSTRUMENT: instrument ? '1' : '0', SHOP_OPTIMIZE: '0', SOLEMATE_PERF_ENDPOINT: perf.url };
  const args = ['build/examples/solemate-shop/src/main.js'];
  const child = pinned(0, process.execPath, args, { env });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (c) => reject(new Error(`shop exited ${c}`)));
    readline.createInterface({ input: child.stdout! }).once('line', resolve);
  });
  return { child, url };
}

const nodePid = (c: ChildProcess) => c.pid!; // taskset execs node in place: same pid

const lua = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'wrk-')), 'products.lua');
fs.writeFileSync(lua, 'request = function() return wrk.format("GET", "/products/" .. math.random(1, 100000)) end\n');

async function load(url: string, seconds: number): Promise<{ requests: number; rps: number; p99: string }> {
  const { requests, rps, out } = await wrk(['-t1', '-c16', `-d${seconds}s`, '--latency', '-s', lua, url]);
  return { requests, rps, p99: /99%\s+(\S+)/.exec(out)?.[1] ?? '?' };
}

const variants = { plain: await shop(false), instrumented: await shop(true) };
for (const v of Object.values(variants)) await load(v.url, 3); // warm-up: JIT, pools, PostgreSQL cache
const rps: Record<string, number[]> = { plain: [], instrumented: [] };
const cpu: Record<string, number[]> = { plain: [], instrumented: [] };
const loss: number[] = [];
const extraCpu: number[] = [];
async function measure(name: 'plain' | 'instrumented') {
  const { child, url } = variants[name];
  const before = cpuMs(nodePid(child));
  const r = await load(url, SECONDS);
  const us = ((cpuMs(nodePid(child)) - before) * 1000) / r.requests;
  rps[name].push(r.rps);
  cpu[name].push(us);
  return { rps: r.rps, us };
}
for (let r = 0; r < ROUNDS; r++) {
  const [a, b] = r % 2 ? [await measure('plain'), await measure('instrumented')] : [await measure('instrumented'), await measure('plain')].reverse();
  loss.push(((a.rps - b.rps) / a.rps) * 100);
  extraCpu.push(b.us - a.us);
  log(`round ${r + 1}/${ROUNDS}: plain ${a.rps.toFixed(0)} req/s (${a.us.toFixed(0)} µs CPU/req), instrumented ${b.rps.toFixed(0)} req/s (${b.us.toFixed(0)} µs CPU/req)`);
}
for (const v of Object.values(variants)) v.child.kill('SIGTERM');
await new Promise((r) => setTimeout(r, 1000));
const traces = await (await fetch(`${perf.url}/api/traces?service=solemate-shop&limit=5`)).json();
await perf.close();
await db.stop();
save('shop', { seconds: SECONDS, rounds: ROUNDS, rps, cpu, lossPct: loss, extraCpuUs: extraCpu, medianLossPct: median(loss), targetLossPct: 3, tracesStored: (traces as { traces: unknown[] }).traces.length });
console.log(`machine: ${machine()}\n${ROUNDS} interleaved rounds × ${SECONDS} s, wrk -t1 -c16, GET /products/<random id> (2 queries: product + 8 related), 100k products, faults off${PIN ? '; shops on core 0, wrk and PostgreSQL on core 1' : ''}\n`);
console.log(table(['SoleMate shop, product page', 'median req/s', 'throughput loss (median of pairs)', 'pair range', 'shop CPU µs/request', 'added CPU µs/request'], [
  ['uninstrumented', Math.round(median(rps.plain)).toLocaleString(), '—', '—', fmt(median(cpu.plain)), '—'],
  ['instrumented: metrics + tracing + pg/ioredis/http + collectors', Math.round(median(rps.instrumented)).toLocaleString(), `${fmt(median(loss))}%`, `${fmt(Math.min(...loss))}% … ${fmt(Math.max(...loss))}%`, fmt(median(cpu.instrumented)), fmt(median(extraCpu))],
]));
