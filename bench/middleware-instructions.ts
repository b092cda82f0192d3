// Instructions per request of the Express hello world (bench/servers/hello.cjs) in each
// instrumentation variant, counted by valgrind's callgrind: the server runs under valgrind, a client
// in this process (not counted) sends the requests, and counting is switched on with
// callgrind_control only around the measured requests, after a warm-up that lets V8 optimise.
// Instruction counts repeat to ~1.5% for the same variant, whatever else the machine does — the
// stable measure where wall-clock throughput at saturation on a 2-core VM is not (bench/middleware.ts).
//   apt-get install -y valgrind; npm run build
//   node --import tsx bench/middleware-instructions.ts [requests] [warm-up requests] [rounds]
//   BENCH_VARIANTS=none,solemate-app,… to choose variants
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

async function count(variant: string): Promise<number> {
  const out = path.join(os.tmpdir(), `solemate-callgrind-${variant}-${process.pid}.out`);
  const child: ChildProcess = spawn('valgrind', ['--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${out}`, process.execPath, '--hash-seed=1', '--random-seed=1', 'bench/servers/hello.cjs', variant], { stdio: ['ignore', 'pipe', 'ignore'] });
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
  const text = fs.readFileSync(out, 'utf8');
  const total = Number(/^totals: (\d+)/m.exec(text)?.[1]);
  if (!total) throw new Error(`no instruction total in ${out}`);
  if (!process.env.BENCH_KEEP) fs.rmSync(out, { force: true });
  return total / REQUESTS;
}

// Rounds interleave the variants; two valgrinds run at once (a count does not depend on timing).
const jobs = Array.from({ length: ROUNDS }, () => VARIANTS).flat();
const counts = new Map<string, number[]>(VARIANTS.map((v) => [v, []]));
let done = 0;
const t0 = Date.now();
await Promise.all(
  Array.from({ length: PARALLEL }, async () => {
    for (let v = jobs.shift(); v !== undefined; v = jobs.shift()) {
      const n = await count(v);
      counts.get(v)!.push(n);
      process.stderr.write(`[${++done}/${ROUNDS * VARIANTS.length}] ${v}: ${fmt(n / 1000, 1)}k instructions/request (${((Date.now() - t0) / 1000).toFixed(0)} s)\n`);
    }
  }),
);
const perRequest = new Map(VARIANTS.map((v) => [v, median(counts.get(v)!)]));
agent.destroy();
const base = perRequest.get('none');
const signed = (x: number) => (x < 0 ? '−' : '+') + fmt(Math.abs(x), 1);
const rows = VARIANTS.map((v) => {
  const n = perRequest.get(v)!;
  return [v, `${fmt(n / 1000, 1)}k (${counts.get(v)!.map((c) => fmt(c / 1000, 1)).join(', ')})`, base && v !== 'none' ? `${signed((n - base) / 1000)}k (${signed(((n - base) / base) * 100)}%)` : '—'];
});
const out = table(['variant', 'instructions per request, median (rounds)', 'added'], rows);
console.log(out);
save('middleware-instructions', { machine: machine(), requests: REQUESTS, warmup: WARMUP, rounds: ROUNDS, perRequest: Object.fromEntries(perRequest), counts: Object.fromEntries(counts) });
