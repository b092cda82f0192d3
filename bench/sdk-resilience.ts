// Issue 25, item 7, measured: an app's throughput, latency and memory with the SDK exporting to a
// performance server that is healthy, refused (nothing listens), hanging (accepts, never answers),
// answering 500, or answering 429 + Retry-After — against the same app uninstrumented, in the same
// run. test/sdk/resilience.test.ts shows the behaviour (bounded buffer, one socket, no retry before
// Retry-After); this shows what it costs the app. The app is bench/servers/hello.cjs "sdk": the whole
// PerformanceService exporting every second (the default is 60 s), the Express middleware and a
// counter over 500 series, so each export carries ~500 points. Every round starts fresh processes,
// warms each, then loads them in turn with wrk (core 1; the apps on core 0), in an order that
// rotates; a variant's figure is the median over its windows of the ratio to the healthy variant in
// the same cycle (the server's state is what varies; the SDK's own cost is bench/middleware-fresh.ts).
//   npm run build && node --import tsx bench/sdk-resilience.ts [rounds (default 3)] [cycles (default 4)] [window s (default 3)]
//   BENCH_SDK_BUFFER: sdk.maxBufferedPoints of the instrumented apps (default the SDK's, 50,000);
//   BENCH_ONLY: the variants to run, comma-separated names from the table (the healthy one always runs)
import fs from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { fmt, intervalOfMedian, machine, median, requireWrk, save, startHello, table, wrk, type Hello } from './lib.js';

const ROUNDS = Number(process.argv[2] ?? 3);
const CYCLES = Number(process.argv[3] ?? 4);
const WINDOW = Number(process.argv[4] ?? 3);
/** s per process before measuring: V8 goes on compiling an Express app for ~10 s (bench/middleware-fresh.ts) */
const WARMUP = 10;

requireWrk('a JavaScript load generator would share the cores it measures');

type Role = 'healthy' | 'hang' | 'error' | 'throttle';
/** A stand-in performance server in one role; it counts the export requests it got. */
async function collector(role: Role): Promise<{ url: string; requests: number; close: () => Promise<void> }> {
  const held: http.ServerResponse[] = [];
  const c = {
    url: '',
    requests: 0,
    close: async () => {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      c.requests++;
      if (role === 'hang') return void held.push(res);
      if (role === 'error') return void res.writeHead(500).end('down');
      if (role === 'throttle') return void res.writeHead(429, { 'retry-after': '2' }).end();
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  c.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return c;
}

async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** wrk --latency's distribution, in ms. */
function latency(out: string, pct: string): number {
  const m = new RegExp(`^\\s*${pct}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(out);
  if (!m) return NaN;
  return Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1);
}

const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;

const collectors = { healthy: await collector('healthy'), hang: await collector('hang'), error: await collector('error'), throttle: await collector('throttle') };
const refused = `http://127.0.0.1:${await closedPort()}`;
const VARIANTS: [name: string, endpoint: string | undefined][] = [
  ['uninstrumented', undefined],
  ['server healthy', collectors.healthy.url],
  ['server refused', refused],
  ['server hanging', collectors.hang.url],
  ['server answers 500', collectors.error.url],
  ['server answers 429, Retry-After 2', collectors.throttle.url],
];
const BASE = 'server healthy';
const only = process.env.BENCH_ONLY?.split(',');
if (only) VARIANTS.splice(0, VARIANTS.length, ...VARIANTS.filter(([v]) => v === BASE || only.includes(v)));
const BUFFER = process.env.BENCH_SDK_BUFFER;

interface Window {
  rps: number;
  p50: number;
  p99: number;
}
const windows = new Map<string, Window[][]>(VARIANTS.map(([v]) => [v, []]));
const rss = new Map<string, number[]>(VARIANTS.map(([v]) => [v, []]));

for (let r = 0; r < ROUNDS; r++) {
  const apps = new Map<string, Hello>();
  try {
    for (const [v, endpoint] of VARIANTS) {
      const app = await startHello(endpoint ? 'sdk' : 'none', { env: endpoint ? { SOLEMATE_PERF_ENDPOINT: endpoint, ...(BUFFER ? { SOLEMATE_SDK_BUFFER: BUFFER } : {}) } : {} });
      apps.set(v, app);
      await wrk(['-t1', '-c50', `-d${WARMUP}s`, app.url]);
    }
    const got = new Map<string, Window[]>(VARIANTS.map(([v]) => [v, []]));
    for (let c = 0; c < CYCLES; c++) {
      for (let j = 0; j < VARIANTS.length; j++) {
        const [v] = VARIANTS[(r + c + j) % VARIANTS.length];
        const { rps, out } = await wrk(['-t1', '-c50', `-d${WINDOW}s`, '--latency', apps.get(v)!.url]);
        got.get(v)!.push({ rps, p50: latency(out, '50'), p99: latency(out, '99') });
      }
    }
    for (const [v, w] of got) windows.get(v)!.push(w);
    for (const [v, app] of apps) rss.get(v)!.push(rssMiB(app.child.pid!));
    process.stderr.write(`round ${r + 1}/${ROUNDS}: ${[...got].map(([v, w]) => `${v} ${Math.round(median(w.map((x) => x.rps)))}`).join(', ')} req/s\n`);
  } finally {
    for (const app of apps.values()) app.child.kill('SIGTERM');
    await Promise.all([...apps.values()].map((a) => a.exited));
  }
}
for (const c of Object.values(collectors)) await c.close();

/** Per round, the variant's windows over the base's in the same cycle, in %. */
function ratios(v: string, key: keyof Window): number[][] {
  return windows.get(v)!.map((round, r) => round.map((w, c) => (w[key] / windows.get(BASE)![r][c][key] - 1) * 100));
}
const rows = VARIANTS.map(([v]) => {
  const all = windows.get(v)!.flat();
  const vs = (key: keyof Window) => {
    if (v === BASE) return '—';
    const g = ratios(v, key);
    const [lo, hi] = intervalOfMedian(g);
    return `${fmt(median(g.flat()))}% (${fmt(lo)} … ${fmt(hi)})`;
  };
  return [v, Math.round(median(all.map((w) => w.rps))), vs('rps'), fmt(median(all.map((w) => w.p50))), fmt(median(all.map((w) => w.p99))), vs('p99'), fmt(median(rss.get(v)!))];
});
const exports = Object.entries(collectors).map(([role, c]) => `${role} ${c.requests}`).join(', ');
console.log(`\nbench/sdk-resilience.ts — ${new Date().toISOString()};${BUFFER ? ` sdk.maxBufferedPoints ${BUFFER};` : ''} ${ROUNDS} rounds × ${CYCLES} cycles × ${WINDOW} s, wrk -c50; ${machine()}\n`);
console.log(table(['app', 'req/s (median window)', `req/s vs ${BASE} (95% interval)`, 'p50 ms', 'p99 ms', `p99 vs ${BASE}`, 'RSS MiB at the end'], rows));
console.log(`\nexport requests the stand-in servers got: ${exports}`);
save('sdk-resilience', { rounds: ROUNDS, cycles: CYCLES, window: WINDOW, rows, exports: Object.fromEntries(Object.entries(collectors).map(([k, c]) => [k, c.requests])), windows: Object.fromEntries(windows), rss: Object.fromEntries(rss) });
