// Express middleware overhead at saturation: hello world uninstrumented vs ours vs
// express-prom-bundle vs OpenTelemetry http + express instrumentation. Each variant runs as several
// processes of its own; wrk (C, Debian package "wrk") saturates them from the other core —
// autocannon, being JavaScript, saturates first on a 2-core machine and would measure itself.
// Reported: the median loss of paired runs against the uninstrumented app, and server CPU time per
// request (from /proc), which does not depend on the load generator at all.
//   npm run build && node --import tsx bench/middleware.ts [seconds-per-round] [rounds (default 2 × copies²)]
//   BENCH_VARIANTS, BENCH_MODE, BENCH_COPIES, BENCH_WARMUP: below
import autocannon from 'autocannon';
import { cpuMs, fmt, HAS_WRK, HELLO_VARIANTS, machine, median, PIN, save, startHello, table, wrk, type Hello } from './lib.js';

const SECONDS = Number(process.argv[2] ?? 3);
// BENCH_VARIANTS=none,noop,dc-empty,… measures other variants of bench/servers/hello.cjs
const VARIANTS = (process.env.BENCH_VARIANTS?.split(',') ?? ['none', 'none-b', 'solemate-dc', 'solemate', 'prom-bundle', 'otel']) as readonly string[];

/** Drives the server for `seconds`; returns requests completed and req/s. */
async function load(port: number, seconds: number): Promise<{ requests: number; rps: number }> {
  const url = `http://127.0.0.1:${port}/hello/world`;
  if (HAS_WRK) return wrk(['-t1', '-c50', `-d${seconds}s`, url]);
  return new Promise((resolve, reject) => {
    autocannon({ url, connections: 50, duration: seconds }, (err, r) => (err ? reject(err) : resolve({ requests: r.requests.total, rps: r.requests.average })));
  });
}

// Paired design: every instrumented run is paired with a baseline run, and the loss is the median
// of the per-pair ratios. The machine drifts by more than the effect between minutes (on a shared
// VM, by ×2 within minutes), so by default the two servers of a pair run at the same time, both on
// core 0, each loaded by its own wrk on core 1 (BENCH_MODE=concurrent): the scheduler gives each
// half of the core, each answers as many requests as its CPU cost per request allows, and a slow
// spell of the host slows both alike. BENCH_MODE=sequential runs them one after the other on the
// whole core, in alternating order: the classic reading, at the mercy of drift.
// Every server is loaded for WARMUP s first (BENCH_WARMUP, default 10): under saturation V8 goes on
// compiling an Express app for ~10 s (node --trace-opt), and the baseline, measured in every pair,
// would otherwise be warmer than its partner in the first rounds.
// A process keeps its own luck — where its code and heap landed — for as long as it lives: two
// uninstrumented processes can differ by several percent for their whole life. So each variant runs
// as COPIES processes (BENCH_COPIES, default 3), and the pairs rotate through every combination of a
// baseline process and a variant process (round r: baseline copy r mod C, variant copy ⌊r/C⌋ mod C),
// so that no single process's luck decides a variant's number. "none-b", a second uninstrumented
// variant, shows what a run can resolve.
const CONCURRENT = (process.env.BENCH_MODE ?? 'concurrent') === 'concurrent';
const WARMUP = Number(process.env.BENCH_WARMUP ?? 10);
const COPIES = Math.max(1, Number(process.env.BENCH_COPIES ?? 3));
const ROUNDS = Number(process.argv[3] ?? 2 * COPIES * COPIES);
const servers = new Map<string, Hello[]>();
for (const v of VARIANTS) {
  const copies = [];
  for (let c = 0; c < COPIES; c++) copies.push(await startHello(v));
  servers.set(v, copies);
}
for (const v of VARIANTS) for (const s of servers.get(v)!) await load(s.port, WARMUP);
process.stderr.write(`${VARIANTS.length * COPIES} servers warmed up\n`);
const samples = new Map<string, number[]>(VARIANTS.map((v) => [v, []]));
const perCopy = new Map<string, number[][]>(VARIANTS.map((v) => [v, Array.from({ length: COPIES }, () => [])]));
const cpu = new Map<string, number[]>(VARIANTS.map((v) => [v, []]));
const pairLoss = new Map<string, number[]>(VARIANTS.map((v) => [v, []]));
const pairCpu = new Map<string, number[]>(VARIANTS.map((v) => [v, []]));
type Sample = { rps: number; cpuUs: number };
async function measure(v: string, copy: number): Promise<Sample> {
  const { child, port } = servers.get(v)![copy];
  const before = cpuMs(child.pid!);
  const { requests, rps } = await load(port, SECONDS);
  const cpuUs = ((cpuMs(child.pid!) - before) * 1000) / requests;
  samples.get(v)!.push(rps);
  perCopy.get(v)![copy].push(rps);
  cpu.get(v)!.push(cpuUs);
  return { rps, cpuUs };
}
/** Two measurements: at the same time, sharing core 0 (what the machine does to one it does to the other), or one after the other. */
async function both(first: () => Promise<Sample>, second: () => Promise<Sample>): Promise<Sample[]> {
  return CONCURRENT ? Promise.all([first(), second()]) : [await first(), await second()];
}
for (let r = 0; r < ROUNDS; r++) {
  const base = r % COPIES;
  const other = Math.floor(r / COPIES) % COPIES;
  for (const v of VARIANTS.slice(1)) {
    // a: the variant, b: the baseline; which one starts first alternates
    const variant = () => measure(v, other);
    const baseline = () => measure('none', base);
    const [a, b] = r % 2 ? await both(variant, baseline) : (await both(baseline, variant)).reverse();
    pairLoss.get(v)!.push(((b.rps - a.rps) / b.rps) * 100);
    pairCpu.get(v)!.push(a.cpuUs - b.cpuUs);
  }
  process.stderr.write(`round ${r + 1}/${ROUNDS} done\n`);
}
for (const copies of servers.values()) for (const { child } of copies) child.kill('SIGTERM');

const rows = VARIANTS.map((v) => ({
  variant: v,
  medianRps: median(samples.get(v)!),
  lossPct: v === 'none' ? 0 : median(pairLoss.get(v)!),
  lossRange: v === 'none' ? [0, 0] : [Math.min(...pairLoss.get(v)!), Math.max(...pairLoss.get(v)!)],
  cpuUsPerRequest: median(cpu.get(v)!),
  extraCpuUs: v === 'none' ? 0 : median(pairCpu.get(v)!),
  // each process's median req/s: how far apart processes of one variant stay
  perProcessRps: perCopy.get(v)!.map((xs) => (xs.length ? median(xs) : NaN)),
  samples: samples.get(v)!,
}));
save('middleware', { mode: CONCURRENT ? 'concurrent' : 'sequential', loadGenerator: HAS_WRK ? 'wrk -t1 -c50' : 'autocannon -c50', seconds: SECONDS, rounds: ROUNDS, processesPerVariant: COPIES, warmupSeconds: WARMUP, rows, pairLoss: Object.fromEntries(pairLoss), targetLossPct: 3 });
const names: Record<string, string> = { ...HELLO_VARIANTS, 'none-b': 'uninstrumented, a second server (what the run resolves)' };
console.log(`machine: ${machine()}\n${COPIES} processes per variant, ${ROUNDS} interleaved rounds × ${SECONDS} s after ${WARMUP} s of warm-up each${CONCURRENT ? ', the two servers of a pair loaded at the same time' : ', one server at a time'}${PIN ? ', servers pinned to core 0, load to core 1' : ''}, ${HAS_WRK ? 'wrk -t1 -c50' : 'autocannon -c50 (wrk not installed: numbers bounded by the load generator)'}, GET /hello/:name\n`);
console.log(table(['Express hello world', CONCURRENT ? 'median req/s (on half a core)' : 'median req/s', 'throughput loss (median of pairs)', 'pair range', 'server CPU µs/request', 'added CPU µs/request', 'median req/s of each process'], rows.map((r) => [names[r.variant] ?? r.variant, Math.round(r.medianRps).toLocaleString(), r.variant === 'none' ? '—' : `${fmt(r.lossPct)}%`, r.variant === 'none' ? '—' : `${fmt(r.lossRange[0])}% … ${fmt(r.lossRange[1])}%`, fmt(r.cpuUsPerRequest), r.variant === 'none' ? '—' : fmt(r.extraCpuUs, 1), r.perProcessRps.map((x) => (Number.isNaN(x) ? '—' : Math.round(x).toLocaleString())).join(', ')])));
