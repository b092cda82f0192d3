// Express middleware overhead at saturation, whole: every measurement is a fresh process. A round
// starts one server per variant, in an order that rotates from round to round, each alone on
// core 0, warmed up and then measured by wrk from core 1, then stopped. The loss is the median over
// rounds of 1 − variant/none of the same round. It measures all that having the instrumentation
// costs — loading it, Node's channel messages, what its code does to the caches and to the rest of
// the app — where bench/middleware-toggle.ts measures what switching it on costs in a process
// that has it (docs/benchmarks.md: an instrumented process switched off still runs slower). A new
// process per run samples where each process's code and heap land, which a long-lived process
// keeps for its whole life; "none-b", a second uninstrumented variant, shows what a run resolves.
//   npm run build && node --import tsx bench/middleware-fresh.ts [rounds (default 8)] [seconds (default 15)]
//   BENCH_VARIANTS (default none,none-b,solemate; also spin: 1.5 µs of plain CPU per request,
//   BENCH_SPIN_US), BENCH_WARMUP (s, default 10: V8 goes on compiling an Express app for ~10 s)
import { fmt, HELLO_VARIANTS, machine, median, PIN, requireWrk, save, startHello, table, wrk } from './lib.js';

const ROUNDS = Number(process.argv[2] ?? 8);
const SECONDS = Number(process.argv[3] ?? 15);
const VARIANTS = (process.env.BENCH_VARIANTS?.split(',') ?? ['none', 'none-b', 'solemate']) as readonly string[];
const WARMUP = Number(process.env.BENCH_WARMUP ?? 10);

requireWrk('a JavaScript load generator would share the cores it measures');
if (VARIANTS[0] !== 'none') {
  console.error('BENCH_VARIANTS must start with none: the baseline of every round');
  process.exit(2);
}

/** One fresh server of `variant`: warmed up, then its req/s over SECONDS. */
async function measure(variant: string): Promise<number> {
  const hello = await startHello(variant);
  try {
    await wrk(['-t1', '-c50', `-d${WARMUP}s`, hello.url]);
    return (await wrk(['-t1', '-c50', `-d${SECONDS}s`, hello.url])).rps;
  } finally {
    hello.child.kill('SIGTERM');
    await hello.exited;
  }
}

const rps = new Map<string, number[]>(VARIANTS.map((v) => [v, []]));
for (let r = 0; r < ROUNDS; r++) {
  for (let j = 0; j < VARIANTS.length; j++) {
    const v = VARIANTS[(r + j) % VARIANTS.length];
    const x = await measure(v);
    rps.get(v)!.push(x);
    process.stderr.write(`round ${r + 1}/${ROUNDS} ${v}: ${Math.round(x)} req/s\n`);
  }
}

const base = rps.get('none')!;
const rows = VARIANTS.slice(1).map((v) => {
  const losses = rps.get(v)!.map((x, r) => (1 - x / base[r]) * 100);
  return { variant: v, lossPct: median(losses), pairs: losses, slower: losses.filter((l) => l > 0).length, rps: median(rps.get(v)!) };
});
save('middleware-fresh', { rounds: ROUNDS, seconds: SECONDS, warmupSeconds: WARMUP, loadGenerator: 'wrk -t1 -c50', baselineRps: median(base), rows, targetLossPct: 3 });
console.log(
  `machine: ${machine()}\n${ROUNDS} rounds, each a fresh process per variant in rotating order, warmed up for ${WARMUP} s then loaded for ${SECONDS} s by wrk -t1 -c50${PIN ? ' (server on core 0, wrk on core 1)' : ''}, GET /hello/:name; uninstrumented: ${Math.round(median(base)).toLocaleString()} req/s (median)\n`,
);
console.log(
  table(
    ['Express hello world', 'req/s (median)', 'throughput loss (median of rounds)', 'per round', 'rounds slower than uninstrumented'],
    rows.map((r) => [HELLO_VARIANTS[r.variant] ?? r.variant, Math.round(r.rps).toLocaleString(), `${fmt(r.lossPct, 2)}%`, r.pairs.map((l) => `${fmt(l, 1)}%`).join(', '), `${r.slower} of ${ROUNDS}`]),
  ),
);
