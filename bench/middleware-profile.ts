// Where the instrumentation's CPU goes, by V8's sampling profiler. The Express hello world
// (bench/servers/hello.cjs) runs under `node --cpu-prof` (a sample every ms by default) at saturation,
// `wrk -t1 -c50`. Of the samples in which the process was busy (not idle), it reports the share
// spent in four places:
//   - our own compiled modules (dist/, or the build a variant names with "@dir");
//   - the native clock read behind performance.now();
//   - Node's diagnostics-channel publish;
//   - the garbage collector.
// This is what the instrumentation runs itself, measured directly. The throughput it costs
// (bench/middleware-toggle.ts) is this plus what it causes elsewhere (caches, GC). The
// uninstrumented app is the control: its clock and GC shares are the baseline. The profiler slows
// the app (~3× fewer req/s), but the shares are of the app's own busy time.
//   npm run build && node --import tsx bench/middleware-profile.ts [seconds per process]
//   BENCH_VARIANTS (default none,solemate-dc,solemate; solemate@scratch/dist-before: the build
//   copied there), BENCH_COPIES (processes per variant, default 2), BENCH_INTERVAL_US (the
//   profiler's sample interval, default 1000; 100 gives ten times the samples, at a larger slowdown)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { fmt, machine, median, PIN, requireWrk, save, startHello, table, wrk, type Hello } from './lib.js';

const SECONDS = Number(process.argv[2] ?? 25);
const VARIANTS = (process.env.BENCH_VARIANTS?.split(',') ?? ['none', 'solemate-dc', 'solemate']) as readonly string[];
const COPIES = Math.max(1, Number(process.env.BENCH_COPIES ?? 2));
const WARMUP = 5;
const INTERVAL_US = Math.max(10, Number(process.env.BENCH_INTERVAL_US ?? 1000));

requireWrk('a JavaScript load generator would share the cores it measures');

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string } }[];
  samples: number[];
}

interface Shares {
  rps: number;
  busySamples: number;
  /** % of busy samples */
  ours: number;
  clock: number;
  channel: number;
  gc: number;
  /** our functions with the most self time, % of busy samples */
  top: [string, number][];
}

/** One process of a variant, profiled under load: its shares of busy CPU. */
async function profile(variant: string): Promise<Shares> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'solemate-profile-'));
  let hello: Hello | undefined;
  try {
    hello = await startHello(variant, { nodeFlags: ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-interval', String(INTERVAL_US)] });
    await wrk(['-t1', '-c50', `-d${WARMUP}s`, hello.url]);
    const { rps } = await wrk(['-t1', '-c50', `-d${SECONDS}s`, hello.url]);
    hello.child.kill('SIGTERM'); // the profile is written as the process exits
    await hello.exited;
    const file = fs.readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error(`${variant} wrote no profile`);
    return { rps, ...shares(JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as CpuProfile, variant) };
  } finally {
    hello?.child.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function shares(p: CpuProfile, variant: string): Omit<Shares, 'rps'> {
  const build = variant.split('@')[1];
  const ours = `${pathToFileURL(path.resolve(build ?? 'dist')).href}/`;
  const frames = new Map(p.nodes.map((n) => [n.id, n.callFrame]));
  const count = { busy: 0, ours: 0, clock: 0, channel: 0, gc: 0 };
  const functions = new Map<string, number>();
  for (const id of p.samples) {
    const { functionName: name, url } = frames.get(id)!;
    if (name === '(idle)') continue;
    count.busy++;
    if (url.startsWith(ours)) {
      count.ours++;
      const key = `${name || '(anonymous)'} (${url.slice(ours.length)})`;
      functions.set(key, (functions.get(key) ?? 0) + 1);
    } else if (name === 'now' && url === '') count.clock++;
    else if (name === 'publish' && url === 'node:diagnostics_channel') count.channel++;
    else if (name === '(garbage collector)') count.gc++;
  }
  const pct = (n: number) => (100 * n) / count.busy;
  const top = [...functions].sort((a, b) => b[1] - a[1]).slice(0, 4).map(([k, n]): [string, number] => [k, pct(n)]);
  return { busySamples: count.busy, ours: pct(count.ours), clock: pct(count.clock), channel: pct(count.channel), gc: pct(count.gc), top };
}

const results = new Map<string, Shares[]>(VARIANTS.map((v) => [v, []]));
for (let c = 0; c < COPIES; c++) {
  for (const v of VARIANTS) {
    const s = await profile(v);
    results.get(v)!.push(s);
    process.stderr.write(`${v} (process ${c + 1}/${COPIES}): ours ${fmt(s.ours, 2)}%, clock ${fmt(s.clock, 2)}%, channel ${fmt(s.channel, 2)}%, GC ${fmt(s.gc, 2)}% of ${s.busySamples} busy samples\n`);
  }
}

const rows = VARIANTS.map((v) => {
  const runs = results.get(v)!;
  const m = (k: 'rps' | 'ours' | 'clock' | 'channel' | 'gc') => median(runs.map((r) => r[k]));
  return { variant: v, rps: m('rps'), ours: m('ours'), clock: m('clock'), channel: m('channel'), gc: m('gc'), perProcess: runs };
});
save('middleware-profile', { seconds: SECONDS, processesPerVariant: COPIES, sampleIntervalUs: INTERVAL_US, loadGenerator: 'wrk -t1 -c50', rows });
console.log(
  `machine: ${machine()}\n${COPIES} process(es) per variant under node --cpu-prof (a sample every ${INTERVAL_US} µs), ${SECONDS} s of wrk -t1 -c50${PIN ? ' (server on core 0, wrk on core 1)' : ''} after ${WARMUP} s of warm-up, GET /hello/:name; % of the busy samples, median over processes\n`,
);
console.log(
  table(
    ['Express hello world', 'req/s under the profiler', 'our modules', 'performance.now() clock', 'channel publish', 'GC', 'our functions with most self time (first process)'],
    rows.map((r) => [r.variant, Math.round(r.rps).toLocaleString(), `${fmt(r.ours, 2)}%`, `${fmt(r.clock, 2)}%`, `${fmt(r.channel, 2)}%`, `${fmt(r.gc, 2)}%`, r.perProcess[0].top.map(([k, p]) => `${k} ${fmt(p, 2)}%`).join(', ') || '—']),
  ),
);
