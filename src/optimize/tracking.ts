// The optimization records (FR-6.5) and their states, kept in the store: each step is tracked before
// it runs, so a run that dies is rolled back by the next one (recoverInterrupted). One optimizer per
// database: a session advisory lock on the service's database (or the store's exclusive lock without one).
import { PerfError } from '../errors.js';
import type { Store } from '../store/store.js';
import type { Comparison } from '../loadtest/statistics.js';
import type { PageLoadResult } from './page-load.js';
import { rollback, type ActionContext, type ActionSpec, type Db, type Undo } from './actions.js';

export type OptimizationState = 'recorded' | 'skipped' | 'applying' | 'applied' | 'measuring' | 'kept' | 'rolled_back' | 'failed';

export interface MeasureSummary {
  runs: number;
  requests: number;
  failed: number;
  requestsPerSecond: number;
  p50: number;
  p95: number;
  p99: number;
  bytesPerResponse: number;
}

export interface OptimizationRecord {
  id: string;
  recommendationId?: string;
  /** who approved a recommendation the analysis left to a person (a manual one with an action) */
  approval?: string;
  title: string;
  action: ActionSpec;
  description: string;
  /**
   * what the verdict is decided on: response time; bytes sent (compression) with a latency guard;
   * bytes a returning visitor downloads again (cache headers: not visible to a load test)
   */
  objective: 'latency' | 'bytes' | 'repeat-view' | 'page-load';
  /** "METHOD /route" the measurement was restricted to (empty: the whole scenario) */
  routes: string[];
  state: OptimizationState;
  reason?: string;
  undo?: Undo;
  createdAt: number;
  updatedAt: number;
  identity?: { requests: number; differences: string[] };
  before?: MeasureSummary;
  after?: MeasureSummary;
  latency?: Comparison;
  bytes?: Comparison;
  /** before p95 / after p95, over all runs of each setting */
  p95Factor?: number;
  /**
   * each round's before-run p95 / its after-run p95, and their median: the two runs of a round ran
   * under the same load a few seconds apart, so a burst in one run (a cache's entries all expiring
   * in it) moves one round's ratio, where it moves the pooled p95 of that whole side
   */
  roundP95Factors?: number[];
  p95FactorMedian?: number;
  /** latency objective: each round's median gain, % (every round must gain more than half the minimum and than noisePct) */
  roundGainsPct?: number[];
  /** latency objective: each run's median (ms), in the order the runs were made within each setting */
  runMediansMs?: { before: number[]; after: number[] };
  /** latency objective: the largest difference between two runs of the same setting, % of the largest before-run median (the measurement's own noise) */
  noisePct?: number;
  /** response cache: the scenario routes run alongside the cached one because their writes empty it (the verdict is on the cached route's requests) */
  writesInMix?: string[];
  /** per scenario route measured: p95 before and after (ms) */
  perRoute?: { route: string; requests: number; beforeP95: number; afterP95: number; factor: number }[];
  /** front-end fixes: the interleaved Lighthouse runs (page-load.ts) */
  pageLoad?: PageLoadResult;
  /** cache headers: bytes downloaded again on a repeat view within the max-age, by HTTP freshness (RFC 9111) */
  repeatView?: { urls: number; beforeBytes: number; afterBytes: number; stale: string[] };
  events: { at: number; state: OptimizationState; message: string }[];
}

const KIND = 'optimization';

export async function listOptimizations(store: Store): Promise<OptimizationRecord[]> {
  return (await store.listDocs(KIND)).map((d) => d.body as unknown as OptimizationRecord).sort((a, b) => a.createdAt - b.createdAt);
}

export async function getOptimization(store: Store, id: string): Promise<OptimizationRecord | undefined> {
  return (await store.listDocs(KIND)).find((d) => d.id === id)?.body as OptimizationRecord | undefined;
}

/** trackOptimization: records the state (with an event) before the next step runs. */
export async function track(store: Store, r: OptimizationRecord, state: OptimizationState, message: string): Promise<void> {
  r.state = state;
  r.updatedAt = Date.now();
  r.events.push({ at: r.updatedAt, state, message });
  await store.putDoc(KIND, r.id, r as unknown as Record<string, unknown>);
}

/** kept / (kept + rolled back + failed): applied optimizations that stayed. */
export function successRate(records: OptimizationRecord[]): { kept: number; applied: number; rate: number | undefined } {
  const applied = records.filter((r) => r.state === 'kept' || r.state === 'rolled_back' || r.state === 'failed').length;
  const kept = records.filter((r) => r.state === 'kept').length;
  return { kept, applied, rate: applied ? kept / applied : undefined };
}

/** Holds the one-optimizer lock while fn runs. */
export async function withOptimizerLock<T>(ctx: { store: Store; lockDb?: Db }, fn: () => Promise<T>): Promise<T> {
  if (ctx.lockDb) {
    const { rows } = await ctx.lockDb.query("SELECT pg_try_advisory_lock(hashtext('solemate-performance optimizer')) AS ok");
    if (!rows[0].ok) throw new PerfError('PERF_ERR_CONFLICT', 'another optimizer is running against this database');
    try {
      return await fn();
    } finally {
      await ctx.lockDb.query("SELECT pg_advisory_unlock(hashtext('solemate-performance optimizer'))").catch(() => {});
    }
  }
  let ran = false;
  const out = await ctx.store.exclusive('solemate-optimizer', async () => {
    ran = true;
    return fn();
  });
  if (!ran) throw new PerfError('PERF_ERR_CONFLICT', 'another optimizer is running against this store');
  return out as T;
}

/** Rolls back what an interrupted run left applied (states between apply and verdict). */
export async function recoverInterrupted(ctx: ActionContext, log: (m: string) => void = () => {}): Promise<OptimizationRecord[]> {
  const out: OptimizationRecord[] = [];
  for (const r of await listOptimizations(ctx.store)) {
    if (r.state !== 'applying' && r.state !== 'applied' && r.state !== 'measuring') continue;
    const was = r.state;
    try {
      if (r.undo) await rollback(r.undo, ctx);
      r.reason = `the run that applied it stopped while ${was}; rolled back on the next run`;
      await track(ctx.store, r, 'rolled_back', r.reason);
      log(`recovered ${r.id} (${r.title}): rolled back`);
    } catch (e) {
      r.reason = `recovery failed: ${(e as Error).message}`;
      await track(ctx.store, r, 'failed', r.reason);
    }
    out.push(r);
  }
  return out;
}
