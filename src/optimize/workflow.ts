// The optimization workflow (FR-6.5): pre-check → record → apply → same responses? → measure
// before/after with the load tester on the same scenario, in interleaved runs (ABBA…) → keep if
// significantly better (Mann–Whitney U, Hodges–Lehmann shift with its confidence interval) and
// every round better by more than runs of one setting differ, else roll back → track. Every step
// is recorded in the store before it runs, so a run that dies is rolled back by the next one
// (recoverInterrupted). One optimizer per database: a session advisory lock on the service's
// database (or the store's exclusive lock without one).
import crypto from 'node:crypto';
import { PerfError } from '../errors.js';
import type { Store } from '../store/store.js';
import { drawVariables, fillPath, type Scenario, type ScenarioRoute } from '../loadtest/scenario.js';
import { histogramOf, onlyRoutes, requestKey, runPhase, type PhaseResult } from '../loadtest/runner.js';
import { ExpHistogram } from '../sdk/histogram.js';
import { median } from '../query/stats.js';
import { compareLatencies, type Comparison } from '../loadtest/statistics.js';
import { apply, describeAction, precheck, rollback, setActive, settingsVersion, undoOf, type ActionContext, type ActionSpec, type Db, type Undo } from './actions.js';
import { writeSpec } from './settings.js';
import { templateMatcher } from './middleware.js';

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
  objective: 'latency' | 'bytes' | 'repeat-view';
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
  /** cache headers: bytes downloaded again on a repeat view within the max-age, by HTTP freshness (RFC 9111) */
  repeatView?: { urls: number; beforeBytes: number; afterBytes: number; stale: string[] };
  events: { at: number; state: OptimizationState; message: string }[];
}

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
}

export const MEASURE_DEFAULTS: Omit<MeasureOptions, 'target' | 'scenario'> = { seconds: 8, rounds: 3, rate: 40, connections: 8, alpha: 0.05, referenceMbps: 10, settingsTimeoutMs: 15_000, workers: 0, minImprovementPct: 5 };

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

/** Whether a scenario step requests one of these routes (templates, "/x/:id"). */
function stepReaches(routes: { method: string; route: string }[]): (s: ScenarioRoute['steps'][number]) => boolean {
  const matchers = routes.map((r) => ({ method: r.method.toUpperCase(), re: templateMatcher(r.route) }));
  const placeholder = (p: string) => p.replace(/\{\{[^}]*\}\}/g, '1').split('?')[0];
  return (s) => matchers.some((m) => m.method === s.method.toUpperCase() && m.re.test(placeholder(s.path)));
}

/** Whether one of the scenario route's steps requests one of these routes. */
function reaches(routes: { method: string; route: string }[]): (r: ScenarioRoute) => boolean {
  const step = stepReaches(routes);
  return (r) => r.steps.some(step);
}

/** The scenario's routes that reach one of these route templates (all of them when none does). */
export function scenarioFor(scenario: Scenario, routes: { method: string; route: string }[]): Scenario {
  const kept = routes.length ? scenario.routes.filter(reaches(routes)) : [];
  const base = kept.length ? kept : scenario.routes;
  // browsers ask for compressed responses; autocannon does not unless told
  const withEncoding = base.map((r) => ({ ...r, steps: r.steps.map((s) => (Object.keys(s.headers ?? {}).some((h) => h.toLowerCase() === 'accept-encoding') ? s : { ...s, headers: { ...s.headers, 'accept-encoding': 'br, gzip' } })) }));
  return { ...scenario, routes: withEncoding };
}

/** A small seeded generator: the identity check asks the same requests before and after. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** GET requests of the scenario with fixed variable values (at most `max`). */
export function identityPaths(scenario: Scenario, max = 12): string[] {
  const rand = seeded(42);
  const out = new Set<string>();
  for (let round = 0; round < 4 && out.size < max; round++) {
    for (const r of scenario.routes) {
      const vars = drawVariables(scenario.variables, rand);
      for (const s of r.steps) if (s.method.toUpperCase() === 'GET' && out.size < max) out.add(fillPath(s.path, vars));
    }
  }
  return [...out];
}

/** GETs a URL: the response, its body's length and SHA-256. */
async function fetchHashed(url: URL | string, headers: Record<string, string> = {}): Promise<{ res: Response; bytes: number; hash: string }> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
  const body = Buffer.from(await res.arrayBuffer());
  return { res, bytes: body.length, hash: crypto.createHash('sha256').update(body).digest('hex') };
}

async function snapshot(target: string, paths: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const p of paths) {
    const { res, hash } = await fetchHashed(new URL(p, target), { 'accept-encoding': 'br, gzip' });
    out.set(p, `${res.status} ${String(res.headers.get('content-type')).split(';')[0]} ${hash}`);
  }
  return out;
}

interface AssetState {
  bytes: number;
  maxAge: number;
  hash: string;
}

async function assets(urls: string[]): Promise<Map<string, AssetState>> {
  const out = new Map<string, AssetState>();
  for (const u of urls) {
    const { res, bytes, hash } = await fetchHashed(u);
    const cc = res.headers.get('cache-control') ?? '';
    const maxAge = /no-store|no-cache/i.test(cc) ? 0 : Number(/max-age=(\d+)/i.exec(cc)?.[1] ?? 0);
    out.set(u, { bytes, maxAge, hash });
  }
  return out;
}

/** What a returning visitor within `withinSeconds` downloads again: assets not fresh by their Cache-Control. */
async function repeatView(urls: string[], before: Map<string, AssetState>, withinSeconds: number): Promise<NonNullable<OptimizationRecord['repeatView']>> {
  const after = await assets(urls);
  let beforeBytes = 0;
  let afterBytes = 0;
  const stale: string[] = [];
  for (const u of urls) {
    const b = before.get(u)!;
    const a = after.get(u)!;
    if (b.maxAge < withinSeconds) beforeBytes += b.bytes;
    if (a.maxAge < withinSeconds || a.hash !== b.hash) {
      afterBytes += a.bytes;
      stale.push(u);
    }
  }
  return { urls: urls.length, beforeBytes, afterBytes, stale };
}

/** Waits until the app answers with settings at least `version` (x-solemate-settings). */
async function waitForSettings(target: string, path: string, version: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(new URL(path, target), { signal: AbortSignal.timeout(5000) }).catch(() => undefined);
    await res?.arrayBuffer().catch(() => {});
    const seen = Number(res?.headers.get('x-solemate-settings') ?? -1);
    if (seen >= version) return;
    if (Date.now() > until) throw new PerfError('PERF_ERR_TIMEOUT', `the service at ${target} did not pick up settings version ${version} within ${timeoutMs / 1000} s (is optimizationMiddleware mounted and pointed at this performance server?)`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

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
const quantileOf = (r: PhaseResult, q: number) => {
  const h = histogramOf(r.latency);
  return h.count ? h.quantile(q) : 0;
};
const medianOf = (r: PhaseResult) => quantileOf(r, 0.5);

/** Each round's before p95 / after p95 (rounds whose after-run has no requests are left out). */
export function roundP95Factors(off: PhaseResult[], on: PhaseResult[]): number[] {
  return off.flatMap((b, i) => (on[i] && quantileOf(on[i], 0.95) > 0 ? [quantileOf(b, 0.95) / quantileOf(on[i], 0.95)] : []));
}

function summarize(rs: PhaseResult[]): MeasureSummary {
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

function perRouteP95(off: PhaseResult[], on: PhaseResult[]): NonNullable<OptimizationRecord['perRoute']> {
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

export interface RunOptions {
  ctx: ActionContext;
  measure: MeasureOptions;
  log?: (m: string) => void;
  /** the recommendation this comes from (for the record) */
  recommendation?: { id: string; title: string; routes: { method: string; route: string }[]; approval?: string };
}

/** applyOptimization + validateOptimization + trackOptimization for one action. */
export async function runOptimization(action: ActionSpec, o: RunOptions): Promise<OptimizationRecord> {
  const { ctx, measure: m } = o;
  const log = o.log ?? (() => {});
  const now = Date.now();
  const routes = o.recommendation?.routes ?? [];
  const r: OptimizationRecord = {
    id: `opt-${now.toString(36)}-${crypto.randomBytes(3).toString('hex')}`,
    recommendationId: o.recommendation?.id,
    ...(o.recommendation?.approval ? { approval: o.recommendation.approval } : {}),
    title: o.recommendation?.title ?? describeAction(action),
    action,
    description: describeAction(action),
    objective: action.type === 'compression' ? 'bytes' : action.type === 'cache-headers' ? 'repeat-view' : 'latency',
    routes: routes.map((x) => `${x.method} ${x.route}`),
    state: 'recorded',
    createdAt: now,
    updatedAt: now,
    events: [],
  };
  const skip = await precheck(action, ctx);
  if (skip) {
    r.reason = skip;
    await track(ctx.store, r, 'skipped', skip);
    log(`${r.title}: skipped — ${skip}`);
    return r;
  }
  // a response cache is measured with the requests that empty it in the mix, at the scenario's own
  // weights (a cache emptied every two seconds in production must not be judged on a run that never
  // empties it). A change to response time is judged on the requests it can affect: the steps that
  // ask for its routes (the cached route's requests alone; for an index, not the checkout of a flow
  // that opens a product page first)
  const cached = routes.length ? m.scenario.routes.filter(reaches(routes)) : [];
  const writers = action.type === 'route-cache' && cached.length ? action.params.invalidatedBy.map(writeSpec) : [];
  const scenario = scenarioFor(m.scenario, [...routes, ...writers]);
  const keys = (pick: (st: ScenarioRoute['steps'][number]) => boolean) => [...new Set(scenario.routes.flatMap((x) => x.steps.filter(pick).map((st) => requestKey(x, st))))];
  const affected = routes.length ? keys(stepReaches(routes)) : [];
  const others = keys(() => true).filter((k) => !affected.includes(k));
  const judged = r.objective === 'latency' && affected.length && others.length ? affected : undefined;
  const alongside = judged && writers.length ? others : [];
  if (alongside.length) r.writesInMix = alongside;
  const paths = identityPaths(scenario);
  const probe = paths[0] ?? '/';
  const isSetting = action.type !== 'create-index';
  const settled = async () => {
    if (isSetting) await waitForSettings(m.target, probe, await settingsVersion(ctx.store), m.settingsTimeoutMs);
  };

  const before = await snapshot(m.target, paths);
  if (action.type === 'route-cache') {
    // the route may be gone since the analysis: no request reaches it, or it answers 404/405
    const re = templateMatcher(action.params.route);
    const reaching = paths.filter((p) => re.test(p.split('?')[0]));
    const gone = reaching.length === 0 ? `no GET request of the scenario reaches ${action.params.route}` : reaching.every((p) => /^40[45] /.test(before.get(p)!)) ? `GET ${action.params.route} answers ${before.get(reaching[0])!.slice(0, 3)}: the route is gone` : undefined;
    if (gone) {
      r.reason = gone;
      await track(ctx.store, r, 'skipped', gone);
      log(`${r.title}: skipped — ${gone}`);
      return r;
    }
  }
  const beforeAssets = action.type === 'cache-headers' ? await assets(action.urls ?? []) : undefined;
  r.undo = undoOf(action, r.id);
  await track(ctx.store, r, 'applying', `applying: ${r.description}`);
  try {
    await apply(action, r.id, ctx);
    await settled();
  } catch (e) {
    r.reason = `apply failed: ${(e as Error).message}`;
    await rollback(r.undo, ctx).catch(() => {});
    await track(ctx.store, r, 'failed', r.reason);
    log(`${r.title}: ${r.reason}`);
    return r;
  }
  await track(ctx.store, r, 'applied', 'applied');
  log(`${r.title}: applied; checking responses`);

  const undo = async (reason: string) => {
    r.reason = reason;
    await rollback(r.undo!, ctx);
    await track(ctx.store, r, 'rolled_back', reason);
    log(`${r.title}: rolled back — ${reason}`);
    return r;
  };
  try {
    // the same requests must get the same answers, from a cold and from a warm cache
    const first = await snapshot(m.target, paths);
    const second = await snapshot(m.target, paths);
    const differences = paths.filter((p) => first.get(p) !== before.get(p) || second.get(p) !== before.get(p));
    r.identity = { requests: paths.length * 2, differences };
    if (differences.length) return await undo(`responses changed for ${differences.slice(0, 3).join(', ')}${differences.length > 3 ? ' …' : ''}`);

    if (action.type === 'cache-headers') {
      const urls = action.urls ?? [];
      if (urls.length === 0) return await undo('no asset URLs to verify the headers on');
      r.repeatView = await repeatView(urls, beforeAssets!, action.params.maxAgeSeconds);
      if (r.repeatView.stale.length || r.repeatView.afterBytes >= r.repeatView.beforeBytes) return await undo(`a repeat view still downloads ${r.repeatView.afterBytes} of ${r.repeatView.beforeBytes} bytes (${r.repeatView.stale.slice(0, 3).join(', ')})`);
      await track(ctx.store, r, 'kept', `kept: a repeat view within ${action.params.maxAgeSeconds} s downloads ${r.repeatView.afterBytes} instead of ${r.repeatView.beforeBytes} bytes (${urls.length} assets, by their Cache-Control)`);
      log(`${r.title}: kept`);
      return r;
    }
    await track(ctx.store, r, 'measuring', `measuring: ${m.rounds} × ${m.seconds} s before and after at ${m.rate} requests/s (${scenario.routes.map((x) => x.name).join(', ')})${alongside.length ? `; judged on ${judged!.join(', ')}, with ${alongside.join(', ')} emptying the cache alongside` : judged ? `; judged on the requests it can affect: ${judged.join(', ')}` : ''}`);
    const off: PhaseResult[] = [];
    const on: PhaseResult[] = [];
    let active = true;
    const phase = async (want: boolean) => {
      if (active !== want) {
        await setActive(action, r.id, want, ctx);
        await settled();
        active = want;
      }
      const opts = { target: m.target, scenario, connections: m.connections, rate: m.rate, workers: m.workers, thread: m.workers > 0 };
      const res = await runPhase({ ...opts, duration: m.seconds, warmup: 1 });
      (want ? on : off).push(res);
      log(`  ${want ? 'after ' : 'before'}: ${res.requests} requests, p95 ${quantileOf(res, 0.95).toFixed(1)} ms`);
    };
    for (let i = 0; i < m.rounds; i++) for (const want of i % 2 === 0 ? [false, true] : [true, false]) await phase(want);
    if (!active) {
      await setActive(action, r.id, true, ctx);
      await settled();
    }
    const failRatio = (s: MeasureSummary) => (s.requests ? s.failed / s.requests : 0);
    const [allBefore, allAfter] = [summarize(off), summarize(on)];
    r.perRoute = perRouteP95(off, on);
    if (judged) {
      off.splice(0, off.length, ...off.map((x) => onlyRoutes(x, judged)));
      on.splice(0, on.length, ...on.map((x) => onlyRoutes(x, judged)));
    }
    r.before = summarize(off);
    r.after = summarize(on);
    r.p95Factor = r.after.p95 > 0 ? r.before.p95 / r.after.p95 : undefined;
    r.roundP95Factors = roundP95Factors(off, on);
    r.p95FactorMedian = r.roundP95Factors.length ? median([...r.roundP95Factors].sort((a, b) => a - b)) : undefined;
    r.latency = compareLatencies(off.flatMap((x) => x.samples), on.flatMap((x) => x.samples), m.alpha);
    if (failRatio(allAfter) > failRatio(allBefore) + 0.01) return await undo(`more failed requests after (${(failRatio(allAfter) * 100).toFixed(1)}% vs ${(failRatio(allBefore) * 100).toFixed(1)}%)`);
    const fmt = (c: Comparison, unit: string) => `median ${c.baselineMedian.toFixed(2)} → ${c.currentMedian.toFixed(2)} ${unit} (${c.medianChangePct.toFixed(1)}%, shift ${c.shift.shift.toFixed(2)} [${c.shift.low.toFixed(2)}, ${c.shift.high.toFixed(2)}], p = ${c.test.p.toExponential(2)})`;
    if (r.objective === 'bytes') {
      r.bytes = compareLatencies(off.flatMap((x) => x.sizes), on.flatMap((x) => x.sizes), m.alpha);
      if (r.bytes.verdict !== 'improved') return await undo(`bytes per response not significantly lower: ${fmt(r.bytes, 'B')}`);
      if (-r.bytes.medianChangePct < m.minImprovementPct) return await undo(`bytes per response lower by ${(-r.bytes.medianChangePct).toFixed(1)}%, under the ${m.minImprovementPct}% a change must gain`);
      // on loopback compression only costs; on a real link the saved bytes save transfer time
      const savedMs = ((r.before.bytesPerResponse - r.after.bytesPerResponse) * 8) / (m.referenceMbps * 1000);
      if (r.latency.verdict === 'regressed' && r.latency.shift.shift > savedMs) return await undo(`response time worse by ${r.latency.shift.shift.toFixed(2)} ms, more than the ${savedMs.toFixed(2)} ms the saved bytes take at ${m.referenceMbps} Mbit/s: ${fmt(r.latency, 'ms')}`);
      await track(ctx.store, r, 'kept', `kept: bytes ${fmt(r.bytes, 'B')}; latency ${fmt(r.latency, 'ms')}`);
    } else {
      if (r.latency.verdict !== 'improved') return await undo(`response time ${r.latency.verdict === 'regressed' ? 'significantly worse' : 'not significantly better'}: ${fmt(r.latency, 'ms')}`);
      if (-r.latency.medianChangePct < m.minImprovementPct) return await undo(`response time better by ${(-r.latency.medianChangePct).toFixed(1)}%, under the ${m.minImprovementPct}% a change must gain: ${fmt(r.latency, 'ms')}`);
      r.runMediansMs = { before: off.map(medianOf), after: on.map(medianOf) };
      r.roundGainsPct = roundGains(r.runMediansMs.before, r.runMediansMs.after);
      r.noisePct = settingNoise(r.runMediansMs.before, r.runMediansMs.after);
      const needed = Math.max(m.minImprovementPct / 2, r.noisePct);
      const gains = r.roundGainsPct.map((g) => `${g.toFixed(1)}%`).join(', ');
      if (r.roundGainsPct.some((g) => g <= needed)) return await undo(`response time not better in every round by more than the runs' own noise (median gains ${gains}; runs of the same setting differed by up to ${r.noisePct.toFixed(1)}% of the before median, and each round must gain at least ${m.minImprovementPct / 2}%): ${fmt(r.latency, 'ms')}`);
      await track(ctx.store, r, 'kept', `kept: ${fmt(r.latency, 'ms')}; ${p95Text(r)}`);
    }
    log(`${r.title}: kept`);
    return r;
  } catch (e) {
    return undo(`measurement failed: ${(e as Error).message}`);
  }
}
