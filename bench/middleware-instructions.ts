// Instructions per request of the Express hello world (bench/servers/hello.cjs) in each
// instrumentation variant, counted by valgrind's callgrind: the server runs under valgrind, a client
// in this process (not counted) sends the requests, and counting is switched on with
// callgrind_control only around the measured requests, after a warm-up that lets V8 optimise.
// Counts do not depend on what else the machine does — the stable measure where wall-clock
// throughput at saturation on a 2-core VM is not (bench/middleware.ts) — but they do depend on
// whether one of V8's background compiles or a major GC falls inside the counted requests: that
// moved the all-threads count of one variant by up to 5%. The main thread's count (the event loop:
// the requests' own work, and the scavenges it causes) is reported beside it.
//   apt-get install -y valgrind; npm run build
//   node --import tsx bench/middleware-instructions.ts [requests] [warm-up requests] [rounds]
//   BENCH_VARIANTS=none,solemate-dc,… to choose variants; BENCH_KEEP=1 keeps the callgrind files
//   (one per thread, -01 the main one) for callgrind_annotate
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fmt, machine, median, save, table } from './lib.js';

const REQUESTS = Number(process.argv[2] ?? 5000);
const WARMUP = Number(process.argv[3] ?? 6000);
// one connection by default: the same path per request whatever the timing (with several, how many
// requests one event-loop turn handles depends on timing, and so does the count)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 1);
const ROUNDS = Number(process.argv[4] ?? 3);
const PARALLEL = Number(process.env.BENCH_PARALLEL ?? 2);
const VARIANTS = (process.env.BENCH_VARIANTS?.split(',') ?? ['none', 'noop', 'solemate-dc', 'solemate', 'prom-bundle', 'otel']) as readonly string[];

if (spawnSync('valgrind', ['--version']).error) {
  console.error('valgrind is not installed (apt-get install -y valgrind)');
  process.exit(2);
}

const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
/** Sends `count` GETs over CONNECTIONS keep-alive connections; every answer must be a 200. */
async function send(port: number, count: number): Promise<void> {
  let next = 0;
  const one = () =>
    new Promise<void>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: `/hello/n${next % 50}`, agent }, (res) => {
          res.resume();
          res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
        })
        .on('error', reject);
    });
  const worker = async () => {
    while (next < count) {
      next++;
      await one();
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, worker));
}

function control(pid: number, ...args: string[]): void {
  const r = spawnSync('callgrind_control', [...args, String(pid)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`callgrind_control ${args.join(' ')}: ${r.stderr || r.stdout}`);
}

/**
 * Instructions per request, on the main thread (the event loop: the request's own work, with the
 * scavenges it causes) and on all threads (V8's background compiler and concurrent marking too:
 * when a compile or a major GC falls inside the counted requests depends on timing, and it moved the
 * all-threads count of the same variant by up to 5%).
 */
async function count(variant: string, round: number): Promise<{ main: number; all: number }> {
  const out = path.join(os.tmpdir(), `solemate-callgrind-${variant}-${round}-${process.pid}.out`);
  const child: ChildProcess = spawn('valgrind', ['--tool=callgrind', '--instr-atstart=no', '--separate-threads=yes', `--callgrind-out-file=${out}`, process.execPath, '--hash-seed=1', '--random-seed=1', 'bench/servers/hello.cjs', variant], { stdio: ['ignore', 'pipe', 'ignore'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (c) => reject(new Error(`${variant} exited ${c}`)));
    readline.createInterface({ input: child.stdout! }).once('line', (l) => resolve(Number(l)));
  });
  await send(port, WARMUP);
  control(child.pid!, '-i', 'on');
  await send(port, REQUESTS);
  control(child.pid!, '-i', 'off');
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
  // one file per thread: <out>-01 is the main thread
  const files = fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith(`${path.basename(out)}-`)).sort();
  const totals = files.map((f) => Number(/^totals: (\d+)/m.exec(fs.readFileSync(path.join(os.tmpdir(), f), 'utf8'))?.[1] ?? 0));
  if (!files.length || !totals[0]) throw new Error(`no instruction total in ${out}-01`);
  // (valgrind also leaves <out> itself, empty)
  if (!process.env.BENCH_KEEP) for (const f of [path.basename(out), ...files]) fs.rmSync(path.join(os.tmpdir(), f), { force: true });
  return { main: totals[0] / REQUESTS, all: totals.reduce((a, b) => a + b, 0) / REQUESTS };
}

// Rounds interleave the variants; two valgrinds run at once (a count does not depend on timing).
const jobs = Array.from({ length: ROUNDS }, (_, round) => VARIANTS.map((v) => ({ v, round }))).flat();
const counts = new Map<string, { main: number[]; all: number[] }>(VARIANTS.map((v) => [v, { main: [], all: [] }]));
let done = 0;
const t0 = Date.now();
await Promise.all(
  Array.from({ length: PARALLEL }, async () => {
    for (let j = jobs.shift(); j !== undefined; j = jobs.shift()) {
      const n = await count(j.v, j.round);
      counts.get(j.v)!.main.push(n.main);
      counts.get(j.v)!.all.push(n.all);
      process.stderr.write(`[${++done}/${ROUNDS * VARIANTS.length}] ${j.v}: ${fmt(n.main / 1000, 1)}k instructions/request on the main thread, ${fmt(n.all / 1000, 1)}k on all (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`);
    }
  }),
);
agent.destroy();
const signed = (x: number) => (x < 0 ? '−' : '+') + fmt(Math.abs(x), 1);
const column = (k: 'main' | 'all') => {
  const per = new Map(VARIANTS.map((v) => [v, median(counts.get(v)![k])]));
  const base = per.get('none');
  return VARIANTS.map((v) => {
    const n = per.get(v)!;
    return [`${fmt(n / 1000, 1)}k (${counts.get(v)![k].map((c) => fmt(c / 1000, 1)).join(', ')})`, base && v !== 'none' ? `${signed((n - base) / 1000)}k (${signed(((n - base) / base) * 100)}%)` : '—'];
  });
};
const [main, all] = [column('main'), column('all')];
const rows = VARIANTS.map((v, i) => [v, ...main[i], ...all[i]]);
const out = table(['variant', 'main thread: instructions per request, median (rounds)', 'added', 'all threads', 'added'], rows);
console.log(out);
save('middleware-instructions', { machine: machine(), requests: REQUESTS, warmup: WARMUP, rounds: ROUNDS, counts: Object.fromEntries(counts) });
