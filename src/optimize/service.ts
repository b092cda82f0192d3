// PerformanceOptimizationService (PRD): analyzePerformance → getOptimizationRecommendations →
// applyOptimization (pre-check, apply, validate, keep or roll back, track) over one store, the
// service's database and its URL. The CLI commands analyze, optimize and optimizations use it.
import { checkOverrides, runAnalyzers, storeCollector } from '../analyzers/runner.js';
import type { AnalyzerResult, Inputs } from '../analyzers/types.js';
import { collectPostgres } from '../collectors/postgres.js';
import { collectSite } from '../analyzers/site.js';
import { pageTemplate } from '../ingest/rum.js';
import { medianRun, runLighthouse } from '../lab/lighthouse.js';
import { LIGHTHOUSE, listStored, storeRuns, type StoredRun } from '../lab/runs.js';
import { frontendFixes, type FrontendFix } from './frontend.js';
import { rumReport } from '../query/rum.js';
import { PerfError } from '../errors.js';
import type { QueryEngine } from '../query/engine.js';
import type { TraceDetail } from '../query/traces.js';
import type { Store } from '../store/store.js';
import type { Scenario } from '../loadtest/scenario.js';
import { PAGE_LOAD_ACTIONS, precheck, rollback, type ActionSpec, type Db } from './actions.js';
import { recommend, type OptimizationRecommendation } from './recommendations.js';
import { runOptimization } from './workflow.js';
import { getOptimization, listOptimizations, recoverInterrupted, successRate, track, withOptimizerLock, type OptimizationRecord } from './tracking.js';
import { MEASURE_DEFAULTS, type MeasureOptions } from './measure.js';

export interface PerformanceAnalysis {
  at: string;
  windowMs: number;
  results: AnalyzerResult[];
  traces: TraceDetail[];
}

/** An optimization to apply: a recommendation, or an action given by hand (e.g. an index to try). */
/**
 * A recommendation to apply, or an action of one's own. A recommendation the analysis left to a person
 * (`automatic: false`) with an action is applied only with `approval`: who approved it, kept on the record.
 */
export type Optimization = (OptimizationRecommendation & { approval?: string }) | { action: ActionSpec; title?: string };
export type OptimizationResult = OptimizationRecord;
export type ValidationResult = Pick<OptimizationRecord, 'state' | 'reason' | 'before' | 'after' | 'latency' | 'bytes' | 'p95Factor' | 'identity'>;

/**
 * The order changes are applied and measured in, priority order within each stage: first the
 * runtime settings that take work off the service (response caches, pool size: they switch in a
 * second and leave nothing in the database), then indexes, then the settings that trade CPU for
 * bytes (compression, cache headers), then the front-end fixes, proven by Lighthouse runs of pages
 * that the changes before them also speed up. Compression's verdict weighs the latency it adds against the
 * bytes it saves, and that latency depends on the CPU left over: measured first, on a machine still
 * busy with what the caches and indexes remove, it was rolled back in one shop run of four (+7.7 ms
 * median) — and it will run beside them.
 */
export function applyOrder<T extends { action?: ActionSpec }>(list: T[]): T[] {
  const stage = (x: T) => (x.action?.type === 'create-index' ? 1 : x.action?.type === 'compression' || x.action?.type === 'cache-headers' ? 2 : x.action && PAGE_LOAD_ACTIONS.includes(x.action.type) ? 3 : 0);
  return [...list].sort((a, b) => stage(a) - stage(b));
}

export interface OptimizationServiceOptions {
  store: Store;
  engine: QueryEngine;
  windowMs: number;
  /** the service's PostgreSQL (database analyzers, index actions, the optimizer lock) */
  databaseUrl?: string;
  /** a page of the service for the front-end analyzers */
  site?: string;
  /** the service and a scenario to measure with (needed to apply) */
  target?: string;
  scenario?: Scenario;
  measure?: Partial<Omit<MeasureOptions, 'target' | 'scenario'>>;
  /** analyzer option overrides by analyzer id (optimization.analyzers) */
  analyzerOptions?: Record<string, Record<string, unknown>>;
  log?: (m: string) => void;
}

/**
 * The site's newest stored Lighthouse runs (one revision and preset: their representative run), with
 * real users' p75 LCP over the last 24 hours on the same page template and device class.
 */
export async function storedLighthouse(store: Store, engine: QueryEngine, site: string): Promise<Inputs['lighthouse'] | undefined> {
  const runs = (await listStored<StoredRun>(store, LIGHTHOUSE)).filter((r) => r.url === site);
  const newest = runs[runs.length - 1];
  if (!newest) return undefined;
  const same = runs.filter((r) => r.revision === newest.revision && r.preset === newest.preset);
  const page = pageTemplate(site, []);
  const now = Date.now();
  const rum = await rumReport(engine, { from: now - 86_400_000, to: now, page, device: newest.preset }).catch(() => undefined);
  const lcp = rum?.pages.map((p) => p.vitals.LCP).filter((v) => v !== undefined);
  const worst = lcp?.length ? lcp.reduce((a, b) => (b!.p75 > a!.p75 ? b : a)) : undefined;
  return { run: medianRun(same), runs: same.length, page, rumP75LcpMs: worst?.p75, rumPageViews: worst?.count };
}

export class OptimizationService {
  private client: Promise<Db & { end(): Promise<void> }> | undefined;
  private last: PerformanceAnalysis | undefined;

  constructor(private readonly o: OptimizationServiceOptions) {}

  private db(): Promise<Db> | undefined {
    if (!this.o.databaseUrl) return undefined;
    this.client ??= (async () => {
      const { default: pg } = await import('pg');
      const c = new pg.Client({ connectionString: this.o.databaseUrl, connectionTimeoutMillis: 5000, application_name: 'solemate-perf optimizer' });
      await c.connect();
      return c as unknown as Db & { end(): Promise<void> };
    })();
    return this.client;
  }

  async analyzePerformance(): Promise<PerformanceAnalysis> {
    const db = this.db();
    const collectors = storeCollector(this.o.engine, this.o.store, this.o.windowMs);
    let traces: TraceDetail[] = [];
    checkOverrides(this.o.analyzerOptions ?? {});
    const lab = this.o.site ? await storedLighthouse(this.o.store, this.o.engine, this.o.site) : undefined;
    const results = await runAnalyzers({
      ...collectors,
      traces: async () => (traces = await collectors.traces()),
      ...(db ? { postgres: async () => collectPostgres(await db), database: () => db } : {}),
      // a browser's view of the site when a Lighthouse run of it is stored; the fetch-only
      // analyzers (labelled as such) only where none is
      ...(lab ? { lighthouse: async () => lab } : this.o.site ? { site: () => collectSite(this.o.site!) } : {}),
    }, { overrides: this.o.analyzerOptions });
    this.last = { at: new Date().toISOString(), windowMs: this.o.windowMs, results, traces };
    return this.last;
  }

  async getOptimizationRecommendations(): Promise<OptimizationRecommendation[]> {
    const a = this.last ?? (await this.analyzePerformance());
    return recommend(a.results, a.traces);
  }

  /** Why the action would be skipped now, or undefined (the dry run shows this). */
  /**
   * What a page needs fixed in the front end, as a real browser sees it: from the page's newest
   * stored Lighthouse runs, or from `runs` new ones (mobile; stored too) when it has none with the
   * audit rows the fixes read. Each fix carries an action for applyOptimizations.
   */
  async frontendFixes(page: string, o: { runs?: number } = {}): Promise<FrontendFix[]> {
    let lab = await storedLighthouse(this.o.store, this.o.engine, page);
    if (!lab || !Object.values(lab.run.audits).some((a) => a.items)) {
      const runs = await runLighthouse([page], { runs: o.runs ?? 3, preset: 'mobile', chromePath: this.o.measure?.chromePath, onProgress: this.o.log });
      await storeRuns(this.o.store, Date.now(), runs, undefined, 'optimizer');
      lab = { run: medianRun(runs), runs: runs.length, page };
    }
    return frontendFixes({ page, run: lab.run });
  }

  async precheck(action: ActionSpec): Promise<string | undefined> {
    return precheck(action, { store: this.o.store, db: await this.db() });
  }

  private measure(): MeasureOptions {
    if (!this.o.target || !this.o.scenario) throw new PerfError('PERF_ERR_USAGE', 'applying needs the service (--target URL) and a scenario to measure with (--scenario FILE)');
    // options left undefined (a flag not given, a config field not set) keep their defaults
    const given = Object.fromEntries(Object.entries(this.o.measure ?? {}).filter(([, v]) => v !== undefined));
    return { ...MEASURE_DEFAULTS, ...given, target: this.o.target, scenario: this.o.scenario };
  }

  private async locked<T>(fn: (db: Db | undefined) => Promise<T>): Promise<T> {
    const db = await this.db();
    return withOptimizerLock({ store: this.o.store, lockDb: db }, async () => {
      await recoverInterrupted({ store: this.o.store, db }, this.o.log);
      return fn(db);
    });
  }

  /** Applies each optimization in turn under the optimizer lock (after recovering an interrupted run). */
  async applyOptimizations(list: Optimization[]): Promise<OptimizationResult[]> {
    const measure = this.measure();
    return this.locked(async (db) => {
      const out: OptimizationResult[] = [];
      for (const x of applyOrder(list)) {
        if (!x.action) throw new PerfError('PERF_ERR_USAGE', `${'id' in x ? x.id : 'this'} has no automatic action`);
        if ('id' in x && !x.automatic && !x.approval) throw new PerfError('PERF_ERR_USAGE', `${x.id} is a person's call, not applied without an approval: ${x.description}`);
        out.push(await runOptimization(x.action, { ctx: { store: this.o.store, db }, measure, log: this.o.log, recommendation: 'id' in x ? { id: x.id, title: x.title, routes: x.routes, approval: x.approval } : x.title ? { id: '', title: x.title, routes: [] } : undefined }));
      }
      return out;
    });
  }

  applyOptimization(optimization: Optimization): Promise<OptimizationResult> {
    return this.applyOptimizations([optimization]).then((r) => r[0]);
  }

  /** The verdict of an applied optimization (validation runs as part of applying). */
  async validateOptimization(optimization: { id: string }): Promise<ValidationResult> {
    const r = await getOptimization(this.o.store, optimization.id);
    if (!r) throw new PerfError('PERF_ERR_NOT_FOUND', `no optimization ${optimization.id}`);
    return { state: r.state, reason: r.reason, before: r.before, after: r.after, latency: r.latency, bytes: r.bytes, p95Factor: r.p95Factor, identity: r.identity };
  }

  /** Records the optimization's current state (the workflow calls it before every step). */
  async trackOptimization(optimization: OptimizationRecord): Promise<void> {
    await track(this.o.store, optimization, optimization.state, `tracked: ${optimization.state}`);
  }

  /** Undoes a kept optimization (what it created, nothing else). */
  async rollbackOptimization(id: string): Promise<OptimizationRecord> {
    return this.locked(async (db) => {
      const r = await getOptimization(this.o.store, id);
      if (!r) throw new PerfError('PERF_ERR_NOT_FOUND', `no optimization ${id} (solemate-perf optimizations lists them)`);
      if (r.state !== 'kept') throw new PerfError('PERF_ERR_USAGE', `${id} is ${r.state.replace('_', ' ')}: only kept optimizations are rolled back`);
      if (!r.undo) throw new PerfError('PERF_ERR_USAGE', `${id} recorded nothing to undo`);
      await rollback(r.undo, { store: this.o.store, db });
      r.reason = 'rolled back on request';
      await track(this.o.store, r, 'rolled_back', r.reason);
      return r;
    });
  }

  async history(): Promise<{ optimizations: OptimizationRecord[]; successRate: ReturnType<typeof successRate> }> {
    const optimizations = await listOptimizations(this.o.store);
    return { optimizations, successRate: successRate(optimizations) };
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    if (c) await (await c.catch(() => undefined))?.end();
  }
}
