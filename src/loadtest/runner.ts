// One load phase on autocannon: weighted routes and flows from a scenario, at a target rate
// (open-ish model, autocannon's overallRate) or as fast as `connections` allow (closed model).
// Latencies go into mergeable exponential histograms, raw and corrected for coordinated omission;
// a reservoir of corrected samples feeds the baseline comparison. With workers > 1 the phase runs
// in that many worker threads (one autocannon each) and their results are merged.
import type { Worker } from 'node:worker_threads';
import type { EventEmitter } from 'node:events';
import { ExpHistogram, type HistogramSummary } from '../model/histogram.js';
import { drawVariables, fill, fillPath, type Scenario, type ScenarioRequest, type ScenarioRoute } from './scenario.js';
import { withExpectedInterval } from './statistics.js';
import { moduleWorker } from '../threads.js';

export interface PhaseOptions {
  target: string;
  scenario: Pick<Scenario, 'routes' | 'variables'>;
  /** seconds */
  duration: number;
  connections: number;
  /** requests per second over all connections; undefined = as fast as possible */
  rate?: number;
  /** worker threads (default 1: autocannon in this thread) */
  workers?: number;
  /** run even a single worker in its own thread (when the target runs in this process) */
  thread?: boolean;
  /** ms between progress reports (and endurance windows) */
  windowMs?: number;
  onProgress?: (p: Progress) => void;
  /** per-request timeout, s (default 10) */
  timeout?: number;
  /** corrected samples kept for statistics (default 20 000) */
  reservoir?: number;
  /**
   * seconds of load before `duration` whose answers are not counted, on the same connections and in
   * the same thread: a warm-up run of its own would leave the counted run to start cold (new
   * connections, a new worker thread's unoptimised code), and its first second would measure that
   */
  warmup?: number;
}

export interface Progress {
  elapsed: number;
  requests: number;
  failed: number;
  /** requests per second in the last window */
  rps: number;
  /** p95 in the last window, ms */
  p95: number;
}

export interface WindowStats {
  /** s since the phase began (end of the window) */
  t: number;
  requests: number;
  failed: number;
  rps: number;
  p50: number;
  p95: number;
  p99: number;
}

export interface PhaseResult {
  requests: number;
  failed: number;
  /** socket errors and timeouts (also counted in failed) */
  errors: number;
  statuses: Record<string, number>;
  bytes: number;
  seconds: number;
  /** ms, as measured from send to response */
  latency: HistogramSummary;
  /** ms, coordinated-omission corrected (equals latency when no rate was set) */
  corrected: HistogramSummary;
  samples: number[];
  /** bytes of each response (headers and body as received), the first `reservoir` of them */
  sizes: number[];
  windows: WindowStats[];
  /**
   * per scenario route (a flow counts as one route): requests, failures, bytes received, latency as
   * measured, and the first `reservoir` of its samples (coordinated-omission corrected, like
   * `samples`) for comparisons
   */
  routes: Record<string, RouteResult>;
}

export interface RouteResult {
  requests: number;
  failed: number;
  bytes?: number;
  latency?: HistogramSummary;
  samples?: number[];
}

interface Ctx {
  route?: ScenarioRoute;
  step: number;
  vars: Record<string, string | number>;
  cookie?: string;
  current?: string;
  expect?: Set<number>;
}

function pickRoute(routes: ScenarioRoute[], total: number): ScenarioRoute {
  let r = Math.random() * total;
  for (const route of routes) if ((r -= route.weight) < 0) return route;
  return routes[routes.length - 1];
}

/**
 * The name a request's results are kept under: its scenario route's name, or for a step of a flow
 * the flow's name and the step ("buy › POST /api/checkout"), so that a change can be judged on the
 * steps it can affect.
 */
export function requestKey(route: ScenarioRoute, step: ScenarioRequest): string {
  return route.steps.length > 1 ? `${route.name} › ${step.method} ${step.path}` : route.name;
}

const hdata = (h: ExpHistogram): HistogramSummary => ({ hist: h.toData(), count: h.count, sum: h.sum, min: h.count ? h.min : 0, max: h.count ? h.max : 0 });

/** Runs one phase in this thread. */
export async function runPhaseHere(o: PhaseOptions): Promise<PhaseResult> {
  // loaded on first use: ~130 ms that `solemate-perf start` and the package root need not pay
  const { default: autocannon } = await import('autocannon');
  const routes = o.scenario.routes;
  const total = routes.reduce((s, r) => s + r.weight, 0);
  const flows = routes.some((r) => r.steps.length > 1);
  // the statuses each step accepts (per step: a flow's steps may differ), looked up per response
  const expectOf = new Map<object, Set<number> | undefined>();
  for (const r of routes) for (const st of r.steps) expectOf.set(st, st.expect ? new Set(st.expect) : undefined);
  let fixedExpect: Set<number> | undefined;
  const setupRequest = (req: Record<string, unknown>, context: Ctx) => {
    if (!context.route || context.step >= context.route.steps.length) {
      // each pick is a new visitor: nothing of the last flow's session (a cart cookie would make
      // every later request on this connection personal, and uncacheable)
      context.route = pickRoute(routes, total);
      context.step = 0;
      context.vars = drawVariables(o.scenario.variables);
      context.cookie = undefined;
    }
    const step = context.route.steps[context.step++];
    const headers: Record<string, string> = { ...fill(step.headers ?? {}, context.vars) };
    if (context.cookie) headers.cookie = context.cookie;
    let body: string | undefined = step.body === undefined ? undefined : fill(step.body, context.vars);
    if (step.json !== undefined) {
      body = JSON.stringify(fill(step.json, context.vars));
      headers['content-type'] = 'application/json';
    }
    context.current = requestKey(context.route, step);
    context.expect = expectOf.get(step);
    return { ...req, method: step.method, path: fillPath(step.path, context.vars), headers, body };
  };
  const entry: Record<string, unknown> = { setupRequest };
  if (flows) {
    // keep the session cookie of this virtual user for the rest of its flow
    entry.onResponse = (_status: number, _body: string, context: Ctx, headers: Record<string, string | string[]>) => {
      // autocannon passes the raw header names, in the server's case (Set-Cookie)
      const name = Object.keys(headers).find((h) => h.toLowerCase() === 'set-cookie');
      const set = name === undefined ? undefined : [headers[name]].flat()[0];
      if (set) context.cookie = String(set).split(';')[0];
    };
  }
  // autocannon resets a connection's context after the last entry: 1000 entries = a visitor's 1000 requests
  let requests: Record<string, unknown>[] = Array.from({ length: 1000 }, () => entry);
  // one fixed request (no variables, no flow): autocannon's static path, nothing rebuilt per request
  const only = routes.length === 1 && routes[0].steps.length === 1 ? routes[0].steps[0] : undefined;
  if (only && !/\{\{/.test(JSON.stringify(only))) {
    const headers: Record<string, string> = { ...(only.headers ?? {}) };
    let body = only.body;
    if (only.json !== undefined) {
      body = JSON.stringify(only.json);
      headers['content-type'] = 'application/json';
    }
    requests = [{ method: only.method, path: only.path, headers, body }];
    fixedExpect = expectOf.get(only);
  }
  const fixedRoute = requests.length === 1 ? routes[0].name : undefined;

  const raw = new ExpHistogram();
  const corrected = new ExpHistogram();
  const window = new ExpHistogram();
  const reservoirSize = o.reservoir ?? 20_000;
  const samples: number[] = [];
  const sizes: number[] = [];
  let seen = 0;
  const keep = (v: number) => {
    corrected.record(v);
    window.record(v);
    seen++;
    if (samples.length < reservoirSize) samples.push(v);
    else {
      const j = Math.floor(Math.random() * seen);
      if (j < reservoirSize) samples[j] = v;
    }
  };
  const interval = o.rate ? (1000 * Math.min(o.connections, o.rate)) / o.rate : 0;
  let count = 0;
  let failed = 0;
  let errors = 0;
  let bytes = 0;
  let winRequests = 0;
  let winFailed = 0;
  const statuses: Record<string, number> = {};
  const perRoute: Record<string, { requests: number; failed: number; bytes: number; samples: number[] }> = {};
  const routeLatency = new Map<string, ExpHistogram>();
  const windows: WindowStats[] = [];
  const warmupMs = (o.warmup ?? 0) * 1000;
  // counting starts after the warm-up; answers before that are dropped
  const started = Date.now() + warmupMs;
  let lastWindow = started;

  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: o.target,
        connections: o.connections,
        duration: o.duration + (o.warmup ?? 0),
        overallRate: o.rate,
        timeout: o.timeout ?? 10,
        requests: requests as never,
      },
      (err) => {
        clearInterval(ticker);
        if (err) return reject(err);
        flushWindow();
        resolve({ requests: count, failed, errors, statuses, bytes, seconds: (Date.now() - started) / 1000, latency: hdata(raw), corrected: hdata(corrected), samples, sizes, windows, routes: Object.fromEntries(Object.entries(perRoute).map(([k, v]) => [k, { ...v, latency: routeLatency.has(k) ? hdata(routeLatency.get(k)!) : undefined }])) });
      },
    );
    const events = instance as unknown as EventEmitter;
    const counting = () => warmupMs === 0 || Date.now() >= started;
    events.on('response', (client: { requestIterator?: { context?: Ctx } }, status: number, resBytes: number, ms: number) => {
      if (!counting()) return;
      count++;
      winRequests++;
      bytes += resBytes;
      if (sizes.length < reservoirSize) sizes.push(resBytes);
      statuses[status] = (statuses[status] ?? 0) + 1;
      raw.record(Math.max(ms, 0.001));
      const name = fixedRoute ?? client.requestIterator?.context?.current ?? 'all';
      const r = (perRoute[name] ??= { requests: 0, failed: 0, bytes: 0, samples: [] });
      r.requests++;
      r.bytes += resBytes;
      withExpectedInterval(Math.max(ms, 0.001), interval, (v) => {
        keep(v);
        if (r.samples.length < reservoirSize) r.samples.push(v);
      });
      let rh = routeLatency.get(name);
      if (!rh) routeLatency.set(name, (rh = new ExpHistogram()));
      rh.record(Math.max(ms, 0.001));
      const allowed = fixedExpect ?? client.requestIterator?.context?.expect;
      if (allowed ? !allowed.has(status) : status < 200 || status >= 400) {
        failed++;
        winFailed++;
        r.failed++;
      }
    });
    events.on('reqError', () => {
      if (!counting()) return;
      count++;
      failed++;
      errors++;
      winRequests++;
      winFailed++;
    });
    const flushWindow = () => {
      const now = Date.now();
      if (now < started) return;
      const secs = (now - lastWindow) / 1000;
      if (secs <= 0) return;
      const w: WindowStats = { t: (now - started) / 1000, requests: winRequests, failed: winFailed, rps: winRequests / secs, p50: q(window, 0.5), p95: q(window, 0.95), p99: q(window, 0.99) };
      windows.push(w);
      o.onProgress?.({ elapsed: w.t, requests: count, failed, rps: w.rps, p95: w.p95 });
      window.reset();
      winRequests = 0;
      winFailed = 0;
      lastWindow = now;
    };
    const ticker = setInterval(flushWindow, o.windowMs ?? 1000);
  });
}

const q = (h: ExpHistogram, p: number) => (h.count ? h.quantile(p) : 0);


/** Runs a phase, across worker threads when o.workers > 1, and merges what they measured. */
export async function runPhase(o: PhaseOptions): Promise<PhaseResult> {
  const n = Math.max(1, Math.floor(o.workers ?? 1));
  if (n === 1 && !o.thread) return runPhaseHere(o);
  const progress = new Map<number, Progress>();
  const results = await Promise.all(
    Array.from({ length: n }, (_, i) => {
      const share = (x: number) => Math.max(1, Math.floor(x / n) + (i < x % n ? 1 : 0));
      const part: PhaseOptions = { ...o, workers: 1, thread: false, connections: share(o.connections), rate: o.rate === undefined ? undefined : share(o.rate), onProgress: undefined, reservoir: Math.ceil((o.reservoir ?? 20_000) / n) };
      return new Promise<PhaseResult>((resolve, reject) => {
        const w = startWorker(part);
        w.on('message', (m: { progress?: Progress; result?: PhaseResult }) => {
          if (m.progress) {
            progress.set(i, m.progress);
            if (progress.size === n && o.onProgress) {
              const all = [...progress.values()];
              o.onProgress({ elapsed: Math.max(...all.map((p) => p.elapsed)), requests: sum(all, 'requests'), failed: sum(all, 'failed'), rps: sum(all, 'rps'), p95: Math.max(...all.map((p) => p.p95)) });
            }
          }
          if (m.result) resolve(m.result);
        });
        w.once('error', reject);
        w.once('exit', (code) => code !== 0 && reject(new Error(`load worker exited with ${code}`)));
      });
    }),
  );
  return mergeResults(results);
}

function startWorker(part: PhaseOptions): Worker {
  return moduleWorker(import.meta.url, 'worker', { workerData: { ...part, onProgress: undefined } });
}

const sum = <T>(xs: T[], k: keyof T) => xs.reduce((s, x) => s + Number(x[k]), 0);

/**
 * Merges phase results. Parallel (worker threads): the same seconds, windows line up by index,
 * all samples count. Sequential (stress or volume steps): seconds add up, windows follow each
 * other, and the samples are the last step's.
 */
export function mergeResults(rs: PhaseResult[], sequential = false): PhaseResult {
  if (rs.length === 1) return rs[0];
  const merge = (key: 'latency' | 'corrected') => {
    const h = new ExpHistogram();
    for (const r of rs) h.merge(r[key]);
    return hdata(h);
  };
  const statuses: Record<string, number> = {};
  const routes: PhaseResult['routes'] = {};
  const routeHists = new Map<string, ExpHistogram>();
  for (const r of rs) {
    for (const [k, v] of Object.entries(r.statuses)) statuses[k] = (statuses[k] ?? 0) + v;
    for (const [k, v] of Object.entries(r.routes)) {
      const t = (routes[k] ??= { requests: 0, failed: 0, bytes: 0, samples: [] });
      t.requests += v.requests;
      t.failed += v.failed;
      t.bytes = (t.bytes ?? 0) + (v.bytes ?? 0);
      // like the phase's own samples: all of parallel workers', the last step's of a sequence
      if (v.samples) t.samples = sequential ? v.samples : [...(t.samples ?? []), ...v.samples];
      if (v.latency) {
        if (!routeHists.has(k)) routeHists.set(k, new ExpHistogram());
        routeHists.get(k)!.merge(v.latency);
      }
    }
  }
  for (const [k, h] of routeHists) routes[k].latency = hdata(h);
  const windows: WindowStats[] = sequential ? rs.flatMap((r) => r.windows) : [];
  const len = sequential ? 0 : Math.min(...rs.map((r) => r.windows.length));
  for (let i = 0; i < len; i++) {
    const ws = rs.map((r) => r.windows[i]);
    windows.push({ t: Math.max(...ws.map((w) => w.t)), requests: sum(ws, 'requests'), failed: sum(ws, 'failed'), rps: sum(ws, 'rps'), p50: Math.max(...ws.map((w) => w.p50)), p95: Math.max(...ws.map((w) => w.p95)), p99: Math.max(...ws.map((w) => w.p99)) });
  }
  return {
    requests: sum(rs, 'requests'),
    failed: sum(rs, 'failed'),
    errors: sum(rs, 'errors'),
    statuses,
    bytes: sum(rs, 'bytes'),
    seconds: sequential ? sum(rs, 'seconds') : Math.max(...rs.map((r) => r.seconds)),
    latency: merge('latency'),
    corrected: merge('corrected'),
    samples: sequential ? rs[rs.length - 1].samples : rs.flatMap((r) => r.samples),
    sizes: sequential ? rs[rs.length - 1].sizes : rs.flatMap((r) => r.sizes),
    windows,
    routes,
  };
}

/**
 * A phase's result as if only these scenario routes had been measured (their requests, failures,
 * bytes, latency and samples); the rest of the load still ran beside them. Windows, statuses and
 * corrected latency stay the whole phase's.
 */
export function onlyRoutes(r: PhaseResult, names: string[]): PhaseResult {
  const parts = names.map((n) => r.routes[n]).filter((x): x is RouteResult => x !== undefined);
  const h = new ExpHistogram();
  for (const p of parts) if (p.latency && p.latency.count > 0) h.merge(p.latency);
  return {
    ...r,
    requests: parts.reduce((s, p) => s + p.requests, 0),
    failed: parts.reduce((s, p) => s + p.failed, 0),
    bytes: parts.reduce((s, p) => s + (p.bytes ?? 0), 0),
    latency: hdata(h),
    samples: parts.flatMap((p) => p.samples ?? []),
    sizes: [],
    routes: Object.fromEntries(names.filter((n) => r.routes[n]).map((n) => [n, r.routes[n]])),
  };
}

/** A histogram back from its data, to read quantiles. */
export function histogramOf(d: HistogramSummary): ExpHistogram {
  const h = new ExpHistogram();
  if (d.count > 0) h.merge(d);
  return h;
}
