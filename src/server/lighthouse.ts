// Lighthouse runs stored on the server (solemate-perf lighthouse --server): POST /api/lighthouse/runs
// keeps each run's compact record keyed by URL, git revision and release (lab/runs.ts keeps the last MAX_RUNS);
// GET /api/lighthouse/runs lists a URL's history; GET /api/lighthouse/compare tests two revisions'
// runs against each other with the Mann–Whitney U test (as sitespeed.io's compare does), per metric.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { PerfError } from '../errors.js';
import { pageTemplate } from '../ingest/rum.js';
import { runLighthouse, type LighthouseRun } from '../lab/lighthouse.js';
import { LIGHTHOUSE, listStored, putStored, storeRuns, WEBPAGETEST, type StoredRun } from '../lab/runs.js';
import type { PerformanceConfig } from '../config/schema.js';
import { mannWhitneyU } from '../loadtest/statistics.js';
import type { Store } from '../store/store.js';

/** runs in one POST */
const MAX_POST = 100;

type Query = Record<string, string | undefined>;

/** GET /api/lighthouse/runs: a stored run without its audits, with its page template */
export type ListedRun = Omit<StoredRun, 'audits'> & { page: string };

/** GET /api/lighthouse/compare */
export interface RevisionComparison {
  url: string;
  base: string;
  head: string;
  metrics: { metric: string; base: { median: number; runs: number } | null; head: { median: number; runs: number } | null; p?: number; significant?: boolean; direction?: 'better' | 'worse' | 'same' }[];
  derivedFrom: string;
}
const COMPARED = ['firstContentfulPaint', 'largestContentfulPaint', 'totalBlockingTime', 'cumulativeLayoutShift', 'speedIndex', 'interactive'] as const;

/**
 * lab.lighthouse: the configured pages measured every everyMinutes by the server itself (one at a
 * time; a run still going when the next is due is not doubled). Without Chromium or Lighthouse it
 * says so once and stops.
 */
export class LighthouseSchedule {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;
  /** the last scheduled run's outcome: stored id, or the error */
  last?: { at: number; id?: string; error?: string };

  constructor(private readonly o: { store: Store; clock: () => number; config: PerformanceConfig['lab']['lighthouse']; log: (level: 'info' | 'warn', m: string) => void }) {}

  start(): void {
    if (this.o.config.urls.length === 0) return;
    this.timer = setInterval(() => void this.runNow(), this.o.config.everyMinutes * 60_000);
    this.timer.unref();
  }

  /** Measures the configured pages now (also on the schedule). */
  runNow(): Promise<void> {
    this.running ??= (async () => {
      const at = this.o.clock();
      try {
        const runs = await runLighthouse(this.o.config.urls, { runs: this.o.config.runs, preset: this.o.config.preset });
        const id = await storeRuns(this.o.store, this.o.clock(), runs, undefined, 'scheduled');
        this.last = { at, id };
        this.o.log('info', `lab.lighthouse: ${runs.length} runs of ${this.o.config.urls.length} pages stored as ${id}`);
      } catch (e) {
        this.last = { at, error: (e as Error).message };
        this.o.log('warn', `lab.lighthouse: ${(e as Error).message}`);
        // a missing Chromium or Lighthouse will not appear by itself: stop asking every hour
        if (e instanceof PerfError && e.code === 'PERF_ERR_USAGE') this.stop();
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  get active(): boolean {
    return !this.stopped && this.timer !== undefined;
  }
}

export async function lighthouseRoutes(app: FastifyInstance, opts: { store: Store; clock: () => number; pages: string[] }): Promise<void> {
  const { store, clock } = opts;
  const all = () => listStored<StoredRun>(store, LIGHTHOUSE);

  app.post('/api/lighthouse/runs', async (req: FastifyRequest<{ Body: { runs?: unknown; revision?: unknown; release?: unknown } }>, reply) => {
    const b = req.body ?? {};
    if (!Array.isArray(b.runs) || b.runs.length === 0 || b.runs.length > MAX_POST) throw new PerfError('PERF_ERR_BAD_REQUEST', `runs must be an array of 1 to ${MAX_POST} Lighthouse runs (solemate-perf lighthouse --server sends them)`);
    for (const r of b.runs as Record<string, unknown>[]) {
      if (!r || typeof r.url !== 'string' || typeof r.categories !== 'object' || typeof r.metrics !== 'object') throw new PerfError('PERF_ERR_BAD_REQUEST', 'each run needs url, categories and metrics');
    }
    const str = (v: unknown, name: string) => {
      if (v === undefined || v === null) return undefined;
      if (typeof v !== 'string' || v.length > 200) throw new PerfError('PERF_ERR_BAD_REQUEST', `${name} must be a string of at most 200 characters`);
      return v;
    };
    const revision = str(b.revision, 'revision');
    const release = str(b.release, 'release');
    const id = await storeRuns(store, clock(), b.runs as LighthouseRun[], revision, release);
    return reply.status(201).send({ id, runs: b.runs.length });
  });

  app.get('/api/lighthouse/runs', async (req: FastifyRequest<{ Querystring: Query }>) => {
    const { url, revision } = req.query;
    const limit = Math.min(500, Number(req.query.limit ?? 100) || 100);
    const runs = (await all()).filter((r) => (!url || r.url === url) && (!revision || r.revision === revision));
    // each with its page template, as real users' beacons of the same page are kept (rum.pages), so
    // the dashboard can set the lab's figures beside the users'
    return { runs: runs.slice(-limit).map(({ audits: _a, ...rest }): ListedRun => ({ ...rest, page: pageTemplate(rest.url, opts.pages) })) };
  });

  // WebPageTest results (solemate-perf webpagetest --server), kept beside the Lighthouse runs
  app.post('/api/webpagetest/runs', async (req: FastifyRequest<{ Body: Record<string, unknown> }>, reply) => {
    const b = req.body ?? {};
    if (typeof b.testId !== 'string' || typeof b.url !== 'string' || typeof b.firstView !== 'object' || b.firstView === null) throw new PerfError('PERF_ERR_BAD_REQUEST', 'a WebPageTest result needs testId, url and firstView (solemate-perf webpagetest --server sends it)');
    if (JSON.stringify(b).length > 64 * 1024) throw new PerfError('PERF_ERR_PAYLOAD_TOO_LARGE', 'a WebPageTest result is at most 64 KiB');
    const id = await putStored(store, WEBPAGETEST, clock(), [b], false);
    return reply.status(201).send({ id });
  });
  app.get('/api/webpagetest/runs', async (req: FastifyRequest<{ Querystring: Query }>) => {
    const runs = (await listStored<{ id: string; url: string; storedAt: number }>(store, WEBPAGETEST)).filter((r) => !req.query.url || r.url === req.query.url);
    return { runs: runs.slice(-100).map((r) => ({ ...r, page: pageTemplate(r.url, opts.pages) })) };
  });

  app.get('/api/lighthouse/compare', async (req: FastifyRequest<{ Querystring: Query }>): Promise<RevisionComparison> => {
    const { url, base, head } = req.query;
    if (!url || !base || !head) throw new PerfError('PERF_ERR_QUERY', 'url, base and head (git revisions) are required, e.g. /api/lighthouse/compare?url=http://127.0.0.1:3000/&base=abc123&head=def456');
    const runs = (await all()).filter((r) => r.url === url);
    const a = runs.filter((r) => r.revision === base);
    const b = runs.filter((r) => r.revision === head);
    if (a.length === 0 || b.length === 0) throw new PerfError('PERF_ERR_NOT_FOUND', `no runs of ${url} at ${a.length === 0 ? base : head}`);
    const metrics = COMPARED.map((m) => {
      const x = a.map((r) => r.metrics[m]).filter((v): v is number => typeof v === 'number');
      const y = b.map((r) => r.metrics[m]).filter((v): v is number => typeof v === 'number');
      if (x.length === 0 || y.length === 0) return { metric: m, base: null, head: null } as RevisionComparison['metrics'][number];
      const t = mannWhitneyU(x, y);
      const med = (v: number[]) => [...v].sort((p, q) => p - q)[v.length >> 1];
      const direction: 'better' | 'worse' | 'same' = med(y) < med(x) ? 'better' : med(y) > med(x) ? 'worse' : 'same';
      return { metric: m, base: { median: med(x), runs: x.length }, head: { median: med(y), runs: y.length }, p: t.p, significant: t.p < 0.05, direction };
    });
    return { url, base, head, metrics, derivedFrom: `${a.length} and ${b.length} stored Lighthouse runs; two-sided Mann–Whitney U per metric, significant below p = 0.05 (with few runs, only large shifts can be)` };
  });
}
