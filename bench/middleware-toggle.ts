// Express middleware overhead at saturation, measured inside one process: the hello world
// (bench/servers/hello.cjs, BENCH_TOGGLE=1) switches its instrumentation off and on under a constant
// load, once per major GC (a window is one GC cycle), and the requests it answers per ms are
// compared between each "on" window and each "off" window beside it. The same process, the same
// code and heap in memory, the same minute of the host: what separates processes (bench/middleware.ts:
// two uninstrumented servers differ by several percent for their whole life) and what the host does
// between minutes both cancel, so a run resolves about ±1 point where runs across processes resolve
// ±8. What it leaves out is what loading the instrumentation costs a process whether it is on or not
// (its code, the recorder's heap): bench/middleware-instructions.ts measures that, with the
// solemate-off variant.
// "Off" is the app as if never instrumented: the middleware's layer out of the router, the
// diagnostics-channel subscriptions removed — except that Node's two HTTP channels keep a no-op
// subscriber in every variant and state, because a channel losing its last subscriber or gaining
// its first deoptimizes Node's request code (hello.cjs). So Node builds the two channel messages in
// both states: what that costs is left out here and measured apart (dc-empty in
// bench/middleware-instructions.ts). "none" switches nothing: what the method resolves.
//   npm run build && node --import tsx bench/middleware-toggle.ts [seconds-per-process]
//   BENCH_VARIANTS (default none,solemate-dc,solemate,prom-bundle,otel; also noop; a
//   variant of ours with "@dir" loads the build copied to dir, to compare two builds in one run:
//   cp -r dist scratch/dist-before, change, npm run build, BENCH_VARIANTS=solemate@scratch/dist-before,solemate),
//   BENCH_COPIES (processes per variant, default 3: the cost of the same code still differs between
//   processes, by where it landed), BENCH_WARMUP (s, default 8)
// OpenTelemetry's instrumentations are disabled and enabled, but the wrappers its Express
// instrumentation put around the app's layers stay and run when "off": its loss here is a lower
// bound (bench/middleware.ts measures it whole, across processes).
import { fmt, HELLO_VARIANTS, intervalOfMedian, machine, median, PIN, requireWrk, save, startHello, table, wrk } from './lib.js';

const SECONDS = Number(process.argv[2] ?? 30);
const VARIANTS = (process.env.BENCH_VARIANTS?.split(',') ?? ['none', 'solemate-dc', 'solemate', 'prom-bundle', 'otel']) as readonly string[];
const COPIES = Math.max(1, Number(process.env.BENCH_COPIES ?? 3));
const WARMUP = Number(process.env.BENCH_WARMUP ?? 8);

requireWrk('a JavaScript load generator would share the cores it measures');

interface Window {
  on: boolean;
  requests: number;
  ms: number;
  cpuUs: number;
}

/** Loads the server with wrk from core 1 for `seconds`; a socket error fails the run too. */
async function load(port: number, seconds: number): Promise<void> {
  const { out } = await wrk(['-t1', '-c50', `-d${seconds}s`, `http://127.0.0.1:${port}/hello/world`]);
  if (/Socket errors/.test(out)) throw new Error(`wrk failed:\n${out}`);
}

/** One process of a variant: warmed up, then loaded for SECONDS; its windows. */
async function run(variant: string): Promise<Window[]> {
  const { child, port, lines } = await startHello(variant, { env: { BENCH_TOGGLE: '1' } });
  try {
    const windows = async () => {
      child.kill('SIGUSR2');
      return JSON.parse((await lines.next()).value as string) as Window[];
    };
    await load(port, WARMUP);
    await windows(); // the warm-up's windows: V8 still compiling
    await load(port, SECONDS);
    return await windows();
  } finally {
    child.kill('SIGTERM');
  }
}

/**
 * Every "on" window against each "off" window beside it: at every switch, the log of the ratio of
 * their rates (requests per ms) and the difference of their CPU per request. Switches from on to off
 * and from off to on alternate, so a drift of the host cancels; and with nothing switched, a window
 * is as likely to be the faster of two as the slower, so the median of the log-ratios is unbiased
 * (the ratio of one window to the mean of its two neighbours is not: windows' rates are skewed).
 * Windows that saw no request are left out.
 */
function compare(ws: Window[]): { logRatio: number[]; cpu: number[] } {
  const rate = (w: Window) => w.requests / w.ms;
  const perRequest = (w: Window) => w.cpuUs / w.requests;
  const logRatio: number[] = [];
  const cpu: number[] = [];
  for (let i = 1; i < ws.length; i++) {
    const [on, off] = ws[i].on ? [ws[i], ws[i - 1]] : [ws[i - 1], ws[i]];
    if (on.on === off.on || !on.requests || !off.requests) continue;
    logRatio.push(Math.log(rate(on) / rate(off)));
    cpu.push(perRequest(on) - perRequest(off));
  }
  return { logRatio, cpu };
}

/** Throughput loss in % for a log-ratio of rates. */
const lossPct = (logRatio: number) => (1 - Math.exp(logRatio)) * 100;

const results = new Map<string, { logRatio: number[][]; cpu: number[]; onRate: number[]; offRate: number[]; perProcess: number[]; windows: Window[][] }>(
  VARIANTS.map((v) => [v, { logRatio: [], cpu: [], onRate: [], offRate: [], perProcess: [], windows: [] }]),
);
// copies of the variants interleaved: a slow spell of the host falls on several variants, not all
// of one
for (let c = 0; c < COPIES; c++) {
  for (const v of VARIANTS) {
    const ws = await run(v);
    const r = results.get(v)!;
    const { logRatio, cpu } = compare(ws);
    r.logRatio.push(logRatio);
    r.cpu.push(...cpu);
    const loss = lossPct(median(logRatio));
    r.perProcess.push(loss);
    r.windows.push(ws);
    for (const w of ws) (w.on ? r.onRate : r.offRate).push((w.requests / w.ms) * 1000);
    process.stderr.write(`${v} (process ${c + 1}/${COPIES}): ${ws.length} windows, loss ${fmt(loss, 2)}%\n`);
  }
}

const rows = VARIANTS.map((v) => {
  const r = results.get(v)!;
  // a 95% interval, by resampling processes: the same code costs one process more than another
  // (where its code and heap landed), so a process, not a switch, is the unit sampled; with the
  // default three processes it is coarse (ten distinct draws): BENCH_COPIES=10 for a close reading
  const [lo, hi] = intervalOfMedian(r.logRatio);
  const all = r.logRatio.flat();
  return { variant: v, lossPct: lossPct(median(all)), interval: [lossPct(hi), lossPct(lo)], extraCpuUs: median(r.cpu), onRps: median(r.onRate), offRps: median(r.offRate), perProcessLossPct: r.perProcess, comparisons: all.length, windows: r.windows };
});
save('middleware-toggle', { window: 'one major-GC cycle', seconds: SECONDS, warmupSeconds: WARMUP, processesPerVariant: COPIES, loadGenerator: 'wrk -t1 -c50', rows, targetLossPct: 3 });
const names: Record<string, string> = {
  ...HELLO_VARIANTS,
  none: 'uninstrumented, nothing switched (what the method resolves)',
  otel: 'OpenTelemetry http + express instrumentation (metrics; a lower bound: its layer wrappers stay when off)',
};
console.log(
  `machine: ${machine()}\n${COPIES} process(es) per variant, each warmed up for ${WARMUP} s then loaded for ${SECONDS} s by wrk -t1 -c50${PIN ? ' (server on core 0, wrk on core 1)' : ''}, instrumentation switched at the end of every major GC; each "on" window against each "off" window beside it, GET /hello/:name\n`,
);
console.log(
  table(
    ['Express hello world', 'req/s on', 'req/s off', 'throughput loss (median at the switches)', '95% interval (processes resampled)', 'added CPU µs/request', 'loss per process', 'comparisons'],
    rows.map((r) => [names[r.variant] ?? r.variant, Math.round(r.onRps).toLocaleString(), Math.round(r.offRps).toLocaleString(), `${fmt(r.lossPct, 2)}%`, `${fmt(r.interval[0], 2)}% … ${fmt(r.interval[1], 2)}%`, fmt(r.extraCpuUs, 2), r.perProcessLossPct.map((x) => `${fmt(x, 2)}%`).join(', '), r.comparisons]),
  ),
);
