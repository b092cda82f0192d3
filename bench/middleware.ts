// Express middleware overhead at saturation: hello world uninstrumented vs ours vs
// express-prom-bundle vs OpenTelemetry http + express instrumentation. Each variant runs in its own
// process; wrk (C, Debian package "wrk") saturates it from the other core — autocannon, being
// JavaScript, saturates first on a 2-core machine and would measure itself. Rounds are interleaved
// so drift hits every variant alike. Reported: median req/s, and server CPU time per request
// (from /proc), which does not depend on the load generator at all.
//   npm run build && node --import tsx bench/middleware.ts [seconds-per-round] [rounds]
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import readline from 'node:readline';
import autocannon from 'autocannon';
import { fmt, machine, median, save, table } from './lib.js';

const SECONDS = Number(process.argv[2] ?? 3);
const ROUNDS = Number(process.argv[3] ?? 10);
// BENCH_VARIANTS=none,noop,dc-empty,… measures other variants of bench/servers/hello.cjs
const VARIANTS = (process.env.BENCH_VARIANTS?.split(',') ?? ['none', 'none-b', 'solemate-dc', 'solemate', 'prom-bundle', 'otel']) as readonly string[];

// Server on core 0, load generator on core 1, when taskset is there: less scheduler noise.
const PIN = !spawnSync('taskset', ['-c', '0', 'true']).error;
const pinned = (core: number, cmd: string, args: string[]) => (PIN ? spawn('taskset', ['-c', String(core), cmd, ...args], { stdio: ['ignore', 'pipe', 'inherit'] }) : spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] }));

async function start(variant: string): Promise<{ child: ChildProcess; port: number }> {
  const child = pinned(0, process.execPath, ['bench/servers/hello.cjs', variant]);
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (c) => reject(new Error(`${variant} exited ${c}`)));
    readline.createInterface({ input: child.stdout! }).once('line', (l) => resolve(Number(l)));
  });
  return { child, port };
}

const WRK = !spawnSync('wrk', ['--version']).error;
const TICK_MS = 1000 / Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim() || 100);

/** user + system CPU of a process, ms (Linux /proc). */
function cpuMs(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

/** Drives the server for `seconds`; returns requests completed and req/s. */
async function load(port: number, seconds: number): Promise<{ requests: number; rps: number }> {
  const url = `http://127.0.0.1:${port}/hello/world`;
  if (WRK) {
    const out = await new Promise<string>((resolve) => {
      const p = pinned(1, 'wrk', ['-t1', '-c50', `-d${seconds}s`, url]);
      let text = '';
      p.stdout!.on('data', (d) => (text += d));
      p.on('close', () => resolve(text));
    });
    const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]);
    if (!requests || /Non-2xx/.test(out)) throw new Error(`wrk failed:\n${out}`);
    return { requests, rps };
  }
  return new Promise((resolve, reject) => {
    autocannon({ url, connections: 50, duration: seconds }, (err, r) => (err ? reject(err) : resolve({ requests: r.requests.total, rps: r.requests.average })));
  });
}

// Paired design: every instrumented round runs right beside a baseline round (order alternating),
// and the loss is the median of the per-pair ratios. The machine drifts by more than the effect
// between minutes; within a pair it barely does. Every server is loaded for WARMUP s first
// (BENCH_WARMUP, default 10): under saturation V8 goes on compiling an Express app for ~10 s
// (node --trace-opt), and the baseline, measured in every pair, would otherwise be warmer than its
// partner in the first rounds. "none-b", a second uninstrumented server, shows what a run can
// resolve (a process keeps its own luck — where its code and heap landed — for as long as it lives).
const WARMUP = Number(process.env.BENCH_WARMUP ?? 10);
const servers = new Map<string, { child: ChildProcess; port: number }>();
for (const v of VARIANTS) servers.set(v, await start(v));
for (const v of VARIANTS) await load(servers.get(v)!.port, WARMUP);
const samples = new Map<string, number[]>(VARIANTS.map((v) => [v, []]));
const cpu = new Map<string, number[]>(VARIANTS.map((v) => [v, []]));
const pairLoss = new Map<string, number[]>(VARIANTS.map((v) => [v, []]));
const pairCpu = new Map<string, number[]>(VARIANTS.map((v) => [v, []]));
async function measure(v: string): Promise<{ rps: number; cpuUs: number }> {
  const { child, port } = servers.get(v)!;
  const before = cpuMs(child.pid!);
  const { requests, rps } = await load(port, SECONDS);
  const cpuUs = ((cpuMs(child.pid!) - before) * 1000) / requests;
  samples.get(v)!.push(rps);
  cpu.get(v)!.push(cpuUs);
  return { rps, cpuUs };
}
for (let r = 0; r < ROUNDS; r++) {
  for (const v of VARIANTS.slice(1)) {
    const [a, b] = r % 2 ? [await measure(v), await measure('none')] : [await measure('none'), await measure(v)].reverse();
    pairLoss.get(v)!.push(((b.rps - a.rps) / b.rps) * 100);
    pairCpu.get(v)!.push(a.cpuUs - b.cpuUs);
  }
  process.stderr.write(`round ${r + 1}/${ROUNDS} done\n`);
}
for (const { child } of servers.values()) child.kill('SIGTERM');

const rows = VARIANTS.map((v) => ({
  variant: v,
  medianRps: median(samples.get(v)!),
  lossPct: v === 'none' ? 0 : median(pairLoss.get(v)!),
  lossRange: v === 'none' ? [0, 0] : [Math.min(...pairLoss.get(v)!), Math.max(...pairLoss.get(v)!)],
  cpuUsPerRequest: median(cpu.get(v)!),
  extraCpuUs: v === 'none' ? 0 : median(pairCpu.get(v)!),
  samples: samples.get(v)!,
}));
save('middleware', { loadGenerator: WRK ? 'wrk -t1 -c50' : 'autocannon -c50', seconds: SECONDS, rounds: ROUNDS, warmupSeconds: WARMUP, rows, pairLoss: Object.fromEntries(pairLoss), targetLossPct: 3 });
const names: Record<string, string> = { none: 'uninstrumented', 'none-b': 'uninstrumented, a second server (what the run resolves)', 'solemate-dc': 'solemate-performance instrumentHttpServer (no middleware)', solemate: 'solemate-performance expressMetrics middleware', 'prom-bundle': 'express-prom-bundle 8', otel: 'OpenTelemetry http + express instrumentation (metrics)' };
console.log(`machine: ${machine()}\n${ROUNDS} interleaved rounds × ${SECONDS} s after ${WARMUP} s of warm-up each${PIN ? ', server pinned to core 0, load to core 1' : ''}, ${WRK ? 'wrk -t1 -c50' : 'autocannon -c50 (wrk not installed: numbers bounded by the load generator)'}, GET /hello/:name\n`);
console.log(table(['Express hello world', 'median req/s', 'throughput loss (median of pairs)', 'pair range', 'server CPU µs/request', 'added CPU µs/request'], rows.map((r) => [names[r.variant] ?? r.variant, Math.round(r.medianRps).toLocaleString(), r.variant === 'none' ? '—' : `${fmt(r.lossPct)}%`, r.variant === 'none' ? '—' : `${fmt(r.lossRange[0])}% … ${fmt(r.lossRange[1])}%`, fmt(r.cpuUsPerRequest), r.variant === 'none' ? '—' : fmt(r.extraCpuUs, 1)])));
