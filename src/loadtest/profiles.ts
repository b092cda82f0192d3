// The four load-test profiles of the PRD's testing requirements:
//   load       a steady target rate for a duration; thresholds decide pass/fail
//   stress     concurrency doubles step by step until a latency or error threshold breaks; the
//              breaking point is reported and the Universal Scalability Law is fitted to the steps
//   endurance  a long steady run in windows; latency (and the target's memory, given its pid) are
//              tested for drift with Theil–Sen + Mann–Kendall
//   volume     the same load at several data-set sizes (a setup command seeds each); latency growth
//              is fitted as p95 ∝ volume^b
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { theilSenMannKendall, type TrendFit } from '../query/stats.js';
import { histogramOf, mergeResults, runPhase, type PhaseResult, type Progress } from './runner.js';
import type { Scenario } from './scenario.js';
import { fitUsl, type UslFit } from './statistics.js';
import { evaluateThresholds, parseThreshold, type Threshold, type ThresholdResult } from './thresholds.js';

export type Profile = 'load' | 'stress' | 'endurance' | 'volume';
export const PROFILES: Profile[] = ['load', 'stress', 'endurance', 'volume'];

export interface LoadTestOptions {
  scenario: Scenario;
  target: string;
  profile: Profile;
  /** s per run (load, endurance, each volume step) */
  duration: number;
  /** requests per second (load, endurance, volume); undefined = closed model, as fast as possible */
  rate?: number;
  connections: number;
  workers: number;
  /** scenario thresholds plus any given on the command line */
  thresholds: Threshold[];
  stress?: { start: number; max: number; stepSeconds: number };
  endurance?: { windowSeconds: number; pid?: number };
  volume?: { volumes: number[]; setup: string };
  onProgress?: (p: Progress & { phase: string; total: number }) => void;
  log?: (m: string) => void;
}

export interface LatencySummary {
  avg: number;
  min: number;
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
}

export interface StepResult {
  /** concurrency (stress) or volume (volume) */
  x: number;
  requests: number;
  failed: number;
  errorRate: number;
  rps: number;
  latency: LatencySummary;
  thresholds: ThresholdResult[];
  ok: boolean;
}

export interface LoadTestResult {
  scenario: string;
  profile: Profile;
  target: string;
  startedAt: string;
  finishedAt: string;
  options: { duration: number; rate?: number; connections: number; workers: number };
  requests: number;
  failed: number;
  errorRate: number;
  rps: number;
  /** ms, send to response */
  latency: LatencySummary;
  /** ms, corrected for coordinated omission (the numbers thresholds are checked against) */
  corrected: LatencySummary;
  statuses: Record<string, number>;
  thresholds: ThresholdResult[];
  passed: boolean;
  steps?: StepResult[];
  breakingPoint?: { concurrency: number; reason: string; lastGood?: number };
  capacity?: UslFit & { derivedFrom: string };
  drift?: { latency: TrendFit & { perHour: number }; memory?: TrendFit & { perHour: number }; drifting: boolean };
  growth?: { exponent: number; derivedFrom: string };
  /** corrected latencies (a reservoir sample), for comparisons with later runs */
  samples: number[];
}

export function summarize(h: ReturnType<typeof histogramOf>): LatencySummary {
  if (h.count === 0) return { avg: 0, min: 0, p50: 0, p90: 0, p95: 0, p99: 0, max: 0 };
  const r = (x: number) => Math.round(x * 1000) / 1000;
  return { avg: r(h.sum / h.count), min: r(h.min), p50: r(h.quantile(0.5)), p90: r(h.quantile(0.9)), p95: r(h.quantile(0.95)), p99: r(h.quantile(0.99)), max: r(h.max) };
}

function check(thresholds: Threshold[], r: PhaseResult): ThresholdResult[] {
  const h = histogramOf(r.corrected);
  return evaluateThresholds(thresholds, { duration: { avg: h.count ? h.sum / h.count : 0, min: h.count ? h.min : 0, max: h.count ? h.max : 0, quantile: (q) => (h.count ? h.quantile(q) : 0) }, requests: r.requests, failed: r.failed, seconds: r.seconds });
}

function step(x: number, r: PhaseResult, thresholds: Threshold[]): StepResult {
  const t = check(thresholds, r);
  return { x, requests: r.requests, failed: r.failed, errorRate: r.requests ? r.failed / r.requests : 0, rps: r.requests / r.seconds, latency: summarize(histogramOf(r.corrected)), thresholds: t, ok: t.every((c) => c.ok) };
}

/** Stress steps need a limit to break: the scenario's, or these defaults. */
const STRESS_DEFAULTS = [parseThreshold('http_req_duration', 'p(95)<1000'), parseThreshold('http_req_failed', 'rate<0.01')];

export async function runLoadTest(o: LoadTestOptions): Promise<LoadTestResult> {
  const startedAt = new Date().toISOString();
  const phase = (name: string, total: number, extra: Partial<Parameters<typeof runPhase>[0]> = {}) =>
    runPhase({ target: o.target, scenario: o.scenario, duration: o.duration, connections: o.connections, rate: o.rate, workers: o.workers, onProgress: (p) => o.onProgress?.({ ...p, phase: name, total }), ...extra });

  let overall: PhaseResult;
  const extra: Partial<LoadTestResult> = {};
  if (o.profile === 'load') {
    overall = await phase('load', o.duration);
  } else if (o.profile === 'endurance') {
    const windowSeconds = o.endurance?.windowSeconds ?? Math.min(60, Math.max(1, o.duration / 30));
    const memory: { t: number; rss: number }[] = [];
    const started = Date.now();
    const sampleMemory = () => {
      const rss = o.endurance?.pid ? readRss(o.endurance.pid) : undefined;
      if (rss !== undefined) memory.push({ t: (Date.now() - started) / 1000, rss });
    };
    sampleMemory();
    const timer = setInterval(sampleMemory, windowSeconds * 1000);
    try {
      overall = await phase('endurance', o.duration, { windowMs: windowSeconds * 1000 });
    } finally {
      clearInterval(timer);
    }
    sampleMemory();
    const w = overall.windows.filter((x) => x.requests > 0);
    if (w.length >= 4) {
      const lat = theilSenMannKendall(w.map((x) => x.t), w.map((x) => x.p95));
      const mem = memory.length >= 4 ? theilSenMannKendall(memory.map((m) => m.t), memory.map((m) => m.rss)) : undefined;
      const up = (f: TrendFit | undefined) => f !== undefined && f.pValue < 0.05 && f.slope > 0;
      extra.drift = { latency: { ...lat, perHour: lat.slope * 3600 }, ...(mem ? { memory: { ...mem, perHour: mem.slope * 3600 } } : {}), drifting: up(lat) || up(mem) };
    } else o.log?.('endurance: fewer than 4 windows, no drift test (run longer or use shorter --window)');
  } else if (o.profile === 'stress') {
    const limits = o.thresholds.length ? o.thresholds : STRESS_DEFAULTS;
    const s = o.stress ?? { start: 1, max: 256, stepSeconds: 10 };
    const steps: StepResult[] = [];
    const results: PhaseResult[] = [];
    // an untimed warm-up, so the first step does not measure a cold JIT and cold caches
    await phase('warm-up', 2, { duration: 2, connections: s.start, rate: undefined, workers: 1 });
    for (let n = s.start; n <= s.max; n *= 2) {
      const r = await phase(`stress ×${n}`, s.stepSeconds, { duration: s.stepSeconds, connections: n, rate: undefined, workers: Math.min(o.workers, n) });
      const st = step(n, r, limits);
      steps.push(st);
      results.push(r);
      o.log?.(`stress: concurrency ${n}: ${st.rps.toFixed(0)} req/s, p95 ${st.latency.p95} ms, errors ${(st.errorRate * 100).toFixed(2)}%${st.ok ? '' : ' — threshold broken'}`);
      if (!st.ok) {
        const broke = st.thresholds.filter((t) => !t.ok).map((t) => `${t.metric} ${t.expression} (was ${round(t.actual)})`);
        extra.breakingPoint = { concurrency: n, reason: broke.join('; '), lastGood: steps.length > 1 ? steps[steps.length - 2].x : undefined };
        break;
      }
    }
    extra.steps = steps;
    if (steps.length >= 3) {
      try {
        extra.capacity = { ...fitUsl(steps.map((x) => ({ concurrency: x.x, throughput: x.rps }))), derivedFrom: `Universal Scalability Law, least-squares fit of throughput over ${steps.length} closed-model steps (concurrency ${steps[0].x}…${steps[steps.length - 1].x})` };
      } catch (e) {
        o.log?.(`stress: no capacity fit: ${(e as Error).message}`);
      }
    } else o.log?.('stress: fewer than 3 steps, no capacity fit (raise --max-concurrency or lower the start)');
    overall = mergeResults(results, true);
  } else {
    const v = o.volume;
    if (!v || v.volumes.length === 0) throw new RangeError('the volume profile needs --volumes (e.g. 1000,10000,100000) and --setup');
    const steps: StepResult[] = [];
    const results: PhaseResult[] = [];
    for (const volume of v.volumes) {
      o.log?.(`volume ${volume}: ${v.setup.replaceAll('{volume}', String(volume))}`);
      await runSetup(v.setup, volume);
      await waitForTarget(o.target, 60_000);
      const r = await phase(`volume ${volume}`, o.duration);
      steps.push(step(volume, r, o.thresholds));
      results.push(r);
    }
    extra.steps = steps;
    const pts = steps.filter((s) => s.latency.p95 > 0 && s.x > 0);
    if (pts.length >= 2) {
      const xs = pts.map((s) => Math.log(s.x));
      const ys = pts.map((s) => Math.log(s.latency.p95));
      const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
      const my = ys.reduce((a, b) => a + b, 0) / ys.length;
      const b = xs.reduce((a, x, i) => a + (x - mx) * (ys[i] - my), 0) / xs.reduce((a, x) => a + (x - mx) ** 2, 0);
      extra.growth = { exponent: Math.round(b * 1000) / 1000, derivedFrom: `least-squares slope of log p95 on log volume over ${pts.length} volumes: p95 ∝ volume^${b.toFixed(2)}` };
    }
    overall = mergeResults(results, true);
  }

  const raw = histogramOf(overall.latency);
  const corrected = histogramOf(overall.corrected);
  const thresholds = check(o.thresholds, overall);
  const stepsOk = o.profile === 'volume' ? (extra.steps ?? []).every((s) => s.ok) : true;
  return {
    scenario: o.scenario.name,
    profile: o.profile,
    target: o.target,
    startedAt,
    finishedAt: new Date().toISOString(),
    options: { duration: o.duration, rate: o.rate, connections: o.connections, workers: o.workers },
    requests: overall.requests,
    failed: overall.failed,
    errorRate: overall.requests ? overall.failed / overall.requests : 0,
    rps: overall.requests / Math.max(overall.seconds, 1e-9),
    latency: summarize(raw),
    corrected: summarize(corrected),
    statuses: overall.statuses,
    thresholds,
    // a stress test is meant to break: it passes when it found where
    passed: o.profile === 'stress' ? true : thresholds.every((t) => t.ok) && stepsOk && !(extra.drift?.drifting ?? false),
    ...extra,
    samples: overall.samples,
  };
}

const round = (x: number) => Math.round(x * 1000) / 1000;

/** Resident set size of a local process, bytes (Linux /proc). */
export function readRss(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

function runSetup(command: string, volume: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(command.replaceAll('{volume}', String(volume)), { shell: true, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, VOLUME: String(volume) } });
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`setup for volume ${volume} exited with ${code}: ${command}`))));
  });
}

/** Resolves once the target answers HTTP at all; rejects with a clear message when it never does. */
export async function waitForTarget(target: string, timeoutMs = 3000): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = '';
  do {
    try {
      const res = await fetch(target, { method: 'GET', signal: AbortSignal.timeout(Math.min(3000, timeoutMs)), redirect: 'manual' });
      await res.arrayBuffer().catch(() => undefined);
      return;
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      last = cause?.code ?? cause?.message ?? (e as Error).message;
    }
    if (Date.now() < until) await new Promise((r) => setTimeout(r, 250));
  } while (Date.now() < until);
  throw Object.assign(new Error(`cannot reach ${target} (${last}); is the service running?`), { unreachable: true });
}
