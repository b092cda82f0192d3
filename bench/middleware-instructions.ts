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
//   BENCH_VARIANTS=none,solemate-dc,… to choose variants (solemate-dc@scratch/dist-before: the build
//   copied there, to compare two builds in one run); BENCH_KEEP=1 keeps the callgrind files
//   (one per thread, -01 the main one) for callgrind_annotate
//   BENCH_CACHE_SIM=1 also simulates the caches and the branch predictor (valgrind --cache-sim
//   --branch-sim, about twice as slow) and reports the main thread's L1/last-level misses and
//   mispredicted branches per request, and KCachegrind's cycle estimate from them: a hello world's
//   code already overflows a 32 KB L1 instruction cache, so instructions added cost more than their
//   count (docs/benchmarks.md)
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
const CACHE_SIM = process.env.BENCH_CACHE_SIM === '1';
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
async function count(variant: string, round: number): Promise<{ main: number; all: number; sim?: Record<string, number> }> {
  // (a variant can name a build directory: solemate-dc@scratch/dist-before)
  const out = path.join(os.tmpdir(), `solemate-callgrind-${variant.replace(/[^\w.-]/g, '_')}-${round}-${process.pid}.out`);
  const child: ChildProcess = spawn('valgrind', ['--tool=callgrind', ...(CACHE_SIM ? ['--cache-sim=yes', '--branch-sim=yes'] : []), '--instr-atstart=no', '--separate-threads=yes', `--callgrind-out-file=${out}`, process.execPath, '--hash-seed=1', '--random-seed=1', 'bench/servers/hello.cjs', variant], { stdio: ['ignore', 'pipe', 'ignore'] });
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
  const texts = files.map((f) => fs.readFileSync(path.join(os.tmpdir(), f), 'utf8'));
  const totals = texts.map((t) => Number(/^totals: (\d+)/m.exec(t)?.[1] ?? 0));
  if (!files.length || !totals[0]) throw new Error(`no instruction total in ${out}-01`);
  const sim = CACHE_SIM ? simulated(texts[0]) : undefined;
  // (valgrind also leaves <out> itself, empty)
  if (!process.env.BENCH_KEEP) for (const f of [path.basename(out), ...files]) fs.rmSync(path.join(os.tmpdir(), f), { force: true });
  return { main: totals[0] / REQUESTS, all: totals.reduce((a, b) => a + b, 0) / REQUESTS, sim };
}

/**
 * The main thread's simulated events per request (callgrind's "events:" and "totals:" lines), with
 * KCachegrind's cycle estimate: CEst = Ir + 10 × (L1 misses + mispredicted branches) + 100 ×
 * last-level misses. The simulated caches are valgrind's model of this CPU's, not the CPU itself.
 */
function simulated(text: string): Record<string, number> {
  const events = /^events: (.*)$/m.exec(text)?.[1].split(' ') ?? [];
  const values = /^totals: (.*)$/m.exec(text)?.[1].split(' ').map(Number) ?? [];
  const e = Object.fromEntries(events.map((name, i) => [name, (values[i] ?? 0) / REQUESTS]));
  const l1 = e.I1mr + e.D1mr + e.D1mw;
  const ll = e.ILmr + e.DLmr + e.DLmw;
  const branches = e.Bcm + e.Bim;
  return { l1Misses: l1, llMisses: ll, mispredicted: branches, cycles: e.Ir + 10 * (l1 + branches) + 100 * ll };
}

// Rounds interleave the variants; two valgrinds run at once (a count does not depend on timing).
const jobs = Array.from({ length: ROUNDS }, (_, round) => VARIANTS.map((v) => ({ v, round }))).flat();
const counts = new Map<string, { main: number[]; all: number[]; sim: Record<string, number>[] }>(VARIANTS.map((v) => [v, { main: [], all: [], sim: [] }]));
let done = 0;
const t0 = Date.now();
await Promise.all(
  Array.from({ length: PARALLEL }, async () => {
    for (let j = jobs.shift(); j !== undefined; j = jobs.shift()) {
      const n = await count(j.v, j.round);
      counts.get(j.v)!.main.push(n.main);
      counts.get(j.v)!.all.push(n.all);
      if (n.sim) counts.get(j.v)!.sim.push(n.sim);
      process.stderr.write(`[${++done}/${ROUNDS * VARIANTS.length}] ${j.v}: ${fmt(n.main / 1000, 1)}k instructions/request on the main thread, ${fmt(n.all / 1000, 1)}k on all (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`);
    }
  }),
);
agent.destroy();
const signed = (x: number) => (x < 0 ? '−' : '+') + fmt(Math.abs(x), 1);
const column = (values: (v: string) => number[], unit = 1000, suffix = 'k') => {
  const per = new Map(VARIANTS.map((v) => [v, median(values(v))]));
  const base = per.get('none');
  return VARIANTS.map((v) => {
    const n = per.get(v)!;
    return [`${fmt(n / unit, 1)}${suffix} (${values(v).map((c) => fmt(c / unit, 1)).join(', ')})`, base && v !== 'none' ? `${signed((n - base) / unit)}${suffix} (${signed(((n - base) / base) * 100)}%)` : '—'];
  });
};
const [main, all] = [column((v) => counts.get(v)!.main), column((v) => counts.get(v)!.all)];
const rows = VARIANTS.map((v, i) => [v, ...main[i], ...all[i]]);
console.log(table(['variant', 'main thread: instructions per request, median (rounds)', 'added', 'all threads', 'added'], rows));
if (CACHE_SIM) {
  const sim = (k: string, unit?: number, suffix?: string) => column((v) => counts.get(v)!.sim.map((s) => s[k]), unit, suffix);
  const [cycles, l1, ll, branches] = [sim('cycles'), sim('l1Misses'), sim('llMisses', 1, ''), sim('mispredicted')];
  console.log('\nmain thread, simulated (valgrind --cache-sim --branch-sim), per request:\n');
  console.log(table(['variant', 'cycle estimate (CEst)', 'added', 'L1 misses', 'added', 'last-level misses', 'added', 'mispredicted branches', 'added'], VARIANTS.map((v, i) => [v, ...cycles[i], ...l1[i], ...ll[i], ...branches[i]])));
}
save('middleware-instructions', { machine: machine(), requests: REQUESTS, warmup: WARMUP, rounds: ROUNDS, counts: Object.fromEntries(counts) });
