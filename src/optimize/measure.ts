// How a before/after measurement is set up (MeasureOptions) and summarised: pooled and per-route
// percentiles, each round's p95 ratio and median gain, and how far runs of one setting differ — the
// numbers the workflow's verdict is judged on.
import type { Scenario } from '../loadtest/scenario.js';
import { histogramOf, type PhaseResult } from '../loadtest/runner.js';
import { ExpHistogram } from '../model/histogram.js';
import type { MeasureSummary, OptimizationRecord } from './tracking.js';

export interface MeasureOptions {
  target: string;
  scenario: Scenario;
  /** seconds per run */
  seconds: number;
  /** before/after pairs */
  rounds: number;
  /** requests per second (the same load before and after) */
  rate: number;
  connections: number;
  alpha: number;
  /**
   * link speed at which compression's saved bytes are worth their CPU time: compression is rolled
   * back when the added median latency exceeds the time the saved bytes take at this speed (Mbit/s)
   */
  referenceMbps: number;
  /** ms to wait for the app to serve new settings */
  settingsTimeoutMs: number;
  /**
   * smallest median improvement kept (%): significance alone would keep one useless change in 40
   * (α/2); below this a change is within a load test's run-to-run noise on these machines
   */
  minImprovementPct: number;
  /** load-generator threads (0: in this thread; use ≥ 1 when the service runs in this process) */
  workers: number;
  /** front-end fixes: Lighthouse runs of each setting (at least 5) */
  lighthouseRuns: number;
  chromePath?: string;
}

export const MEASURE_DEFAULTS: Omit<MeasureOptions, 'target' | 'scenario'> = { seconds: 8, rounds: 3, rate: 40, connections: 8, alpha: 0.05, referenceMbps: 10, settingsTimeoutMs: 15_000, workers: 0, minImprovementPct: 5, lighthouseRuns: 5 };

/**
 * Each round's gain in %, its before run's median against its after run's. The pooled comparison can
 * pass on a burst of outside load during one run (at ~1 ms, a busy neighbour is 5%); an interleaved
 * measurement shows a real gain in every round.
 */
export function roundGains(beforeMedians: number[], afterMedians: number[]): number[] {
  return beforeMedians.map((b, i) => (b > 0 ? ((b - afterMedians[i]) / b) * 100 : 0));
}

/**
 * How far apart two runs of the same setting came out: the larger range of the before-runs' and of
 * the after-runs' medians, in % of the largest before median (the scale the round gains are on).
 * What the setting did not change, the machine did: a round's gain no larger than this is not
 * evidence of the change (on a busy 2-core machine, runs of ~1–3 ms requests differ by 10–30% from
 * one to the next). In ms, not relative to each setting's own level: a cache's first after-run
 * still fills it, so its after-runs differ by several times their own level while both are a
 * fraction of the before level.
 */
export function settingNoise(beforeMedians: number[], afterMedians: number[]): number {
  const range = (ms: number[]) => (ms.length > 1 ? Math.max(...ms) - Math.min(...ms) : 0);
  const scale = Math.max(0, ...beforeMedians);
  return scale > 0 ? (Math.max(range(beforeMedians), range(afterMedians)) / scale) * 100 : 0;
}

/** "p95 51.3 → 7.2 ms (7.1×; by round 11.3×, 12.5×, 3.9×)": the pooled p95s and each round's ratio. */
export function p95Text(r: Pick<OptimizationRecord, 'before' | 'after' | 'p95Factor' | 'roundP95Factors'>): string {
  if (!r.before || !r.after) return '';
  const rounds = r.roundP95Factors?.length ? `; by round ${r.roundP95Factors.map((f) => `${f.toFixed(1)}×`).join(', ')}` : '';
  return `p95 ${r.before.p95.toFixed(1)} → ${r.after.p95.toFixed(1)} ms${r.p95Factor ? ` (${r.p95Factor.toFixed(1)}×${rounds})` : ''}`;
}

/** A quantile of one run's latency (ms; 0 for a run without requests). */
export const quantileOf = (r: PhaseResult, q: number) => {
  const h = histogramOf(r.latency);
  return h.count ? h.quantile(q) : 0;
};
export const medianOf = (r: PhaseResult) => quantileOf(r, 0.5);

/** Each round's before p95 / after p95 (rounds whose after-run has no requests are left out). */
export function roundP95Factors(off: PhaseResult[], on: PhaseResult[]): number[] {
  return off.flatMap((b, i) => (on[i] && quantileOf(on[i], 0.95) > 0 ? [quantileOf(b, 0.95) / quantileOf(on[i], 0.95)] : []));
}

export function summarize(rs: PhaseResult[]): MeasureSummary {
  const h = histogramOf(rs[0].latency);
  for (const r of rs.slice(1)) h.merge(r.latency);
  const requests = rs.reduce((s, r) => s + r.requests, 0);
  const seconds = rs.reduce((s, r) => s + r.seconds, 0);
  return {
    runs: rs.length,
    requests,
    failed: rs.reduce((s, r) => s + r.failed, 0),
    requestsPerSecond: seconds > 0 ? requests / seconds : 0,
    p50: h.count ? h.quantile(0.5) : 0,
    p95: h.count ? h.quantile(0.95) : 0,
    p99: h.count ? h.quantile(0.99) : 0,
    bytesPerResponse: requests ? rs.reduce((s, r) => s + r.bytes, 0) / requests : 0,
  };
}

export function perRouteP95(off: PhaseResult[], on: PhaseResult[]): NonNullable<OptimizationRecord['perRoute']> {
  const p95 = (rs: PhaseResult[], name: string) => {
    const h = new ExpHistogram();
    for (const r of rs) if (r.routes[name]?.latency) h.merge(r.routes[name].latency!);
    return { n: h.count, p95: h.count ? h.quantile(0.95) : 0 };
  };
  const names = [...new Set([...off, ...on].flatMap((r) => Object.keys(r.routes)))].sort();
  return names.map((route) => {
    const b = p95(off, route);
    const a = p95(on, route);
    return { route, requests: b.n + a.n, beforeP95: b.p95, afterP95: a.p95, factor: a.p95 > 0 ? b.p95 / a.p95 : 0 };
  });
}
