// Express middleware overhead at saturation, whole: every round is a fresh set of processes. A
// round starts one server per variant, each alone on core 0 while wrk loads it from core 1; each is
// warmed up, then the round loads them in turn, a short window each (BENCH_WINDOW s), cycle after
// cycle, in an order that rotates from cycle to cycle. The host drifts by more than the effect from
// one minute to the next (×1.2 between two 15-s windows, 2026-12-01), and windows seconds apart
// drift alike; a hiccup of the host spoils one window, not the round. A round's loss is the median
// over its cycles of 1 − variant/none, the run's loss the median over rounds. It measures all that
// having the instrumentation costs — loading it, Node's channel messages, what its code does to the
// caches and to the rest of the app — where bench/middleware-toggle.ts measures what switching it
// on costs in a process that has it (docs/benchmarks.md: an instrumented process switched off still
// runs slower). New processes every round sample where each process's code and heap land, which a
// long-lived process keeps for its whole life; "none-b", a second uninstrumented variant, shows
// what a run resolves.
//   npm run build && node --import tsx bench/middleware-fresh.ts [rounds (default 8)] [seconds per variant and round (default 16)]
//   BENCH_VARIANTS (default none,none-b,solemate; also spin: 1.5 µs of plain CPU per request,
//   BENCH_SPIN_US), BENCH_WARMUP (s, default 10: V8 goes on compiling an Express app for ~10 s),
//   BENCH_WINDOW (s, default 2)
import { fmt, HELLO_VARIANTS, intervalOfMedian, machine, median, PIN, requireWrk, save, startHello, table, wrk, type Hello } from './lib.js';

const ROUNDS = Number(process.argv[2] ?? 8);
const SECONDS = Number(process.argv[3] ?? 16);
const VARIANTS = (process.env.BENCH_VARIANTS?.split(',') ?? ['none', 'none-b', 'solemate']) as readonly string[];
const WARMUP = Number(process.env.BENCH_WARMUP ?? 10);
const WINDOW = Number(process.env.BENCH_WINDOW ?? 2);
const CYCLES = Math.max(1, Math.round(SECONDS / WINDOW));

requireWrk('a JavaScript load generator would share the cores it measures');
if (VARIANTS[0] !== 'none') {
  console.error('BENCH_VARIANTS must start with none: the baseline of every round');
  process.exit(2);
}

/** One round: fresh servers of every variant, warmed up, then loaded in turn; req/s per variant per cycle. */
async function round(r: number): Promise<Map<string, number[]>> {
  const servers = new Map<string, Hello>();
  try {
    for (const v of VARIANTS) {
      const hello = await startHello(v);
      servers.set(v, hello);
      await wrk(['-t1', '-c50', `-d${WARMUP}s`, hello.url]);
    }
    const rps = new Map<string, number[]>(VARIANTS.map((v) => [v, []]));
    for (let c = 0; c < CYCLES; c++) {
      for (let j = 0; j < VARIANTS.length; j++) {
        const v = VARIANTS[(r + c + j) % VARIANTS.length];
        rps.get(v)!.push((await wrk(['-t1', '-c50', `-d${WINDOW}s`, servers.get(v)!.url])).rps);
      }
    }
    return rps;
  } finally {
    for (const hello of servers.values()) hello.child.kill('SIGTERM');
    await Promise.all([...servers.values()].map((h) => h.exited));
  }
}

/** Per cycle, 1 − variant/baseline in %. */
const losses = (xs: number[], base: number[]) => xs.map((x, c) => (1 - x / base[c]) * 100);

const perRound: Map<string, number[]>[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const rps = await round(r);
  perRound.push(rps);
  const base = rps.get('none')!;
  const said = VARIANTS.map((v) => `${v} ${Math.round(median(rps.get(v)!))} req/s${v === 'none' ? '' : ` (${fmt(median(losses(rps.get(v)!, base)), 1)}%)`}`);
  process.stderr.write(`round ${r + 1}/${ROUNDS}: ${said.join(', ')}\n`);
}

const baseRps = perRound.map((rps) => median(rps.get('none')!));
// how much a window moves from the one before it, the same process: what interleaving takes out
const windowSpread = median(perRound.flatMap((rps) => rps.get('none')!.slice(1).map((x, c) => Math.abs(x / rps.get('none')![c] - 1) * 100)));
const rows = VARIANTS.slice(1).map((v) => {
  const cycles = perRound.map((rps) => losses(rps.get(v)!, rps.get('none')!));
  const pairs = cycles.map(median);
  // a 95% interval, by resampling rounds: a round's processes keep their own luck (where their code
  // and heap landed) through all its cycles, so a round, not a cycle, is the unit sampled
  return { variant: v, lossPct: median(pairs), interval: intervalOfMedian(pairs.map((l) => [l])), pairs, slower: pairs.filter((l) => l > 0).length, rps: median(perRound.map((rps) => median(rps.get(v)!))) };
});
save('middleware-fresh', { rounds: ROUNDS, cycles: CYCLES, windowSeconds: WINDOW, warmupSeconds: WARMUP, loadGenerator: 'wrk -t1 -c50', baselineRps: median(baseRps), windowSpreadPct: windowSpread, rows, targetLossPct: 3 });
console.log(
  `machine: ${machine()}\n${ROUNDS} rounds, each a fresh process per variant, warmed up for ${WARMUP} s, then ${CYCLES} cycles of ${WINDOW}-s windows in rotating order, loaded by wrk -t1 -c50${PIN ? ' (server on core 0, wrk on core 1)' : ''}, GET /hello/:name; uninstrumented: ${Math.round(median(baseRps)).toLocaleString()} req/s (median), one window to the next ±${fmt(windowSpread, 1)}% (median)\n`,
);
console.log(
  table(
    ['Express hello world', 'req/s (median)', 'throughput loss (median of rounds)', '95% interval (rounds resampled)', 'per round (median of its cycles)', 'rounds slower than uninstrumented'],
    rows.map((r) => [HELLO_VARIANTS[r.variant] ?? r.variant, Math.round(r.rps).toLocaleString(), `${fmt(r.lossPct, 2)}%`, `${fmt(r.interval[0], 2)}% … ${fmt(r.interval[1], 2)}%`, r.pairs.map((l) => `${fmt(l, 1)}%`).join(', '), `${r.slower} of ${ROUNDS}`]),
  ),
);
