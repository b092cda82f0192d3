// solemate-perf loadtest <scenario> --profile load|stress|endurance|volume
// Runs the scenario, checks thresholds, stores the run (with environment and git revision) in the
// configured store, and compares it with a baseline run when asked. Exit: 0 passed, 3 a threshold
// broke / latency drifted / regressed against the baseline, 2 bad usage or scenario, 1 target
// unreachable or store failure.
import crypto from 'node:crypto';
import { loadConfig } from '../../config/load.js';
import type { PerformanceConfigInput } from '../../config/schema.js';
import { PerfError } from '../../errors.js';
import { parseDuration } from '../../query/filters.js';
import { environment, gitRevision } from '../../loadtest/environment.js';
import { PROFILES, runLoadTest, waitForTarget, type LoadTestResult, type Profile } from '../../loadtest/profiles.js';
import { loadScenario } from '../../loadtest/scenario.js';
import { compareLatencies, type Comparison } from '../../loadtest/statistics.js';
import { checkTarget } from '../../loadtest/targets.js';
import { parseThreshold, type Threshold } from '../../loadtest/thresholds.js';
import { openStore } from '../../store/open.js';
import type { LoadTestRun, Store } from '../../store/store.js';
import type { Command, CommandSpec, Io } from '../command.js';
import { progressBar } from '../progress.js';

export function build(): CommandSpec {
  return {
    name: 'loadtest',
    summary: 'Load, stress, endurance or volume test a loopback service from a scenario file; thresholds, baseline comparison, capacity fit.',
    usage: 'solemate-perf loadtest <scenario.yml> [--profile load] [--target URL] [--rate 50] [--duration 30s] [--threshold "http_req_duration=p(95)<200"] [--baseline latest|ID] [--json]',
    options: {
      profile: { type: 'string', short: 'p' },
      target: { type: 'string', short: 't' },
      rate: { type: 'string', short: 'r' },
      duration: { type: 'string', short: 'd' },
      connections: { type: 'string', short: 'c' },
      workers: { type: 'string', short: 'w' },
      threshold: { type: 'string', multiple: true },
      baseline: { type: 'string', short: 'b' },
      'max-concurrency': { type: 'string' },
      'start-concurrency': { type: 'string' },
      'step-duration': { type: 'string' },
      window: { type: 'string' },
      pid: { type: 'string' },
      volumes: { type: 'string' },
      setup: { type: 'string' },
      'allow-host': { type: 'string', multiple: true },
      'no-save': { type: 'boolean' },
      config: { type: 'string' },
      data: { type: 'string' },
      quiet: { type: 'boolean', short: 'q' },
    },
    help: {
      profile: `${PROFILES.join(' | ')} (default load)`,
      target: 'base URL of the service (default: the scenario\'s target); loopback only unless allowed',
      rate: 'requests per second (load, endurance, volume; default 50; 0 = as fast as possible)',
      duration: 'how long: 30s, 5m, 2h (default 30s; per volume for volume)',
      connections: 'concurrent connections (default 10)',
      workers: 'load-generator threads, for more than one core (default 1)',
      threshold: 'k6-style, repeatable: "http_req_duration=p(95)<200", "http_req_failed=rate<0.01"',
      baseline: 'compare with a stored run: an id, or "latest" (the newest run of this scenario and profile)',
      'max-concurrency': 'stress: highest concurrency tried (default 256)',
      'start-concurrency': 'stress: first step (default 1; each step doubles)',
      'step-duration': 'stress: length of each step (default 10s)',
      window: 'endurance: window of the drift test (default duration/30, 1s…60s)',
      pid: 'endurance: process id of the service, to test its memory (RSS) for drift',
      volumes: 'volume: data-set sizes, e.g. 1000,10000,100000',
      setup: 'volume: command run before each volume, {volume} replaced (e.g. "npm run shop:seed -- --products {volume}")',
      'allow-host': 'also allow this non-loopback host (repeatable; or loadtest.allowedHosts in the config)',
      'no-save': 'do not store the run',
      config: 'YAML or JSON config file (the store the run goes to)',
      data: 'SQLite file of the embedded store (default .data/solemate-perf.db)',
      quiet: 'no progress bar',
    },
  };
}

const int = (v: unknown, name: string, min: number, fallback: number): number => {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new PerfError('PERF_ERR_USAGE', `--${name} must be a whole number ≥ ${min}, got "${v}"`);
  return n;
};
const seconds = (v: unknown, name: string, fallback: number): number => {
  if (v === undefined) return fallback;
  try {
    return parseDuration(String(v)) / 1000;
  } catch {
    throw new PerfError('PERF_ERR_USAGE', `--${name} must be a duration such as 30s, 5m or 1h, got "${v}"`);
  }
};

export async function run(values: Record<string, unknown>, pos: string[], io: Io): Promise<number> {
  const file = pos[0];
  if (!file) throw new PerfError('PERF_ERR_USAGE', 'name a scenario file, e.g. "solemate-perf loadtest examples/solemate-shop/scenarios/browse.yml"');
  const profile = (values.profile ?? 'load') as Profile;
  if (!PROFILES.includes(profile)) throw new PerfError('PERF_ERR_USAGE', `--profile must be one of ${PROFILES.join(', ')}, got "${profile}"`);
  const scenario = loadScenario(file);
  const overrides: PerformanceConfigInput = {};
  if (values.data !== undefined) overrides.store = { path: String(values.data) };
  const config = loadConfig({ file: values.config as string | undefined, env: io.env, overrides });
  const targetText = (values.target as string | undefined) ?? scenario.target;
  if (!targetText) throw new PerfError('PERF_ERR_USAGE', `no target: give --target or "target:" in ${file}`);
  const target = checkTarget(targetText, [...config.loadtest.allowedHosts, ...((values['allow-host'] as string[] | undefined) ?? [])]).toString().replace(/\/$/, '');

  const extra: Threshold[] = ((values.threshold as string[] | undefined) ?? []).map((t) => {
    const i = t.indexOf('=');
    if (i < 0) throw new PerfError('PERF_ERR_USAGE', `--threshold "${t}": write metric=expression, e.g. "http_req_duration=p(95)<200"`);
    try {
      return parseThreshold(t.slice(0, i).trim(), t.slice(i + 1));
    } catch (e) {
      throw new PerfError('PERF_ERR_USAGE', `--threshold "${t}": ${(e as Error).message}`);
    }
  });
  const rate = values.rate === undefined ? 50 : int(values.rate, 'rate', 0, 50);
  const duration = seconds(values.duration, 'duration', 30);
  const connections = int(values.connections, 'connections', 1, 10);
  const workers = int(values.workers, 'workers', 1, 1);
  const volumes = values.volumes === undefined ? undefined : String(values.volumes).split(',').map((v) => int(v.trim(), 'volumes', 1, 0));
  if (profile === 'volume' && (!volumes || values.setup === undefined)) throw new PerfError('PERF_ERR_USAGE', 'the volume profile needs --volumes and --setup');
  const pid = values.pid === undefined ? undefined : int(values.pid, 'pid', 1, 0);

  try {
    await waitForTarget(target, 3000);
  } catch (e) {
    throw new PerfError('PERF_ERR_UNREACHABLE', (e as Error).message);
  }

  // the store is opened before the run, so a broken store fails fast instead of after the load
  const store: Store | undefined = values['no-save'] && values.baseline === undefined ? undefined : await openStore(config);
  try {
    const bar = values.quiet || values.json ? undefined : progressBar(io);
    const result = await runLoadTest({
      scenario,
      target,
      profile,
      duration,
      rate: rate === 0 ? undefined : rate,
      connections,
      workers,
      thresholds: [...scenario.thresholds, ...extra],
      stress: { start: int(values['start-concurrency'], 'start-concurrency', 1, 1), max: int(values['max-concurrency'], 'max-concurrency', 1, 256), stepSeconds: seconds(values['step-duration'], 'step-duration', 10) },
      endurance: { windowSeconds: values.window === undefined ? Math.min(60, Math.max(1, duration / 30)) : seconds(values.window, 'window', 10), pid },
      volume: volumes ? { volumes, setup: String(values.setup) } : undefined,
      onProgress: bar?.update,
      log: (m) => (bar ? bar.log(m) : values.json ? undefined : io.err(m)),
    });
    bar?.done();

    let comparison: (Comparison & { baselineId: string }) | undefined;
    if (values.baseline !== undefined && store) {
      const spec = String(values.baseline);
      const base = spec === 'latest' ? (await store.listRuns({ scenario: scenario.name, profile, limit: 1 }))[0] : await store.getRun(spec);
      if (!base) io.err(`no baseline run ${spec === 'latest' ? `of ${scenario.name} (${profile}) stored yet: this run becomes the first` : `with id ${spec}`}`);
      else {
        const full = base.samples.length ? base : await store.getRun(base.id);
        if (full && full.samples.length > 0 && result.samples.length > 0) comparison = { ...compareLatencies(full.samples, result.samples), baselineId: full.id };
      }
    }
    let id: string | undefined;
    if (store && !values['no-save']) {
      id = crypto.randomUUID();
      const { samples, ...rest } = result;
      const runRow: LoadTestRun = { id, scenario: scenario.name, profile, target, startedAt: Date.parse(result.startedAt), finishedAt: Date.parse(result.finishedAt), passed: result.passed && comparison?.verdict !== 'regressed', gitRevision: gitRevision(), environment: environment({ connections, workers }), result: { ...rest, comparison }, samples };
      await store.saveRun(runRow);
    }
    const failed = !result.passed || comparison?.verdict === 'regressed';
    if (values.json) io.out(JSON.stringify({ id, ...withoutSamples(result), comparison }, null, 2));
    else io.out(report(result, comparison, id));
    return failed ? 3 : 0;
  } finally {
    await store?.close();
  }
}

function withoutSamples(r: LoadTestResult): Omit<LoadTestResult, 'samples'> & { samples: number } {
  return { ...r, samples: r.samples.length };
}

const ms = (x: number) => `${x < 10 ? x.toFixed(2) : x.toFixed(1)} ms`;

export function report(r: LoadTestResult, c: (Comparison & { baselineId: string }) | undefined, id: string | undefined): string {
  const lines = [
    `${r.scenario} — ${r.profile} — ${r.target}`,
    `  requests ${r.requests.toLocaleString()} (${r.rps.toFixed(1)}/s), failed ${r.failed} (${(r.errorRate * 100).toFixed(2)}%)`,
    `  latency    p50 ${ms(r.latency.p50)}  p95 ${ms(r.latency.p95)}  p99 ${ms(r.latency.p99)}  max ${ms(r.latency.max)}`,
    `  corrected  p50 ${ms(r.corrected.p50)}  p95 ${ms(r.corrected.p95)}  p99 ${ms(r.corrected.p99)}  (coordinated omission)`,
  ];
  if (r.steps) {
    lines.push(`  steps (${r.profile === 'stress' ? 'concurrency' : 'volume'}):`);
    for (const s of r.steps) lines.push(`    ${String(s.x).padStart(8)}  ${s.rps.toFixed(1).padStart(9)} req/s  p95 ${ms(s.latency.p95).padStart(10)}  errors ${(s.errorRate * 100).toFixed(2)}%${s.ok ? '' : '  ✗'}`);
  }
  if (r.breakingPoint) lines.push(`  breaking point: concurrency ${r.breakingPoint.concurrency} (${r.breakingPoint.reason})${r.breakingPoint.lastGood ? `; last good ${r.breakingPoint.lastGood}` : ''}`);
  else if (r.profile === 'stress') lines.push('  breaking point: not reached within --max-concurrency');
  if (r.capacity) {
    const peak = Number.isFinite(r.capacity.peakConcurrency) ? `peak ${r.capacity.peakThroughput.toFixed(0)} req/s at concurrency ${r.capacity.peakConcurrency.toFixed(1)}` : `no peak (κ = 0); throughput approaches ${Number.isFinite(r.capacity.peakThroughput) ? r.capacity.peakThroughput.toFixed(0) : '∞'} req/s`;
    lines.push(`  capacity (USL): ${peak}; σ = ${r.capacity.sigma.toFixed(4)}, κ = ${r.capacity.kappa.toFixed(6)}, R² = ${r.capacity.r2.toFixed(3)}`, `    ${r.capacity.derivedFrom}`);
  }
  if (r.drift) {
    lines.push(`  drift: p95 ${r.drift.latency.perHour >= 0 ? '+' : ''}${r.drift.latency.perHour.toFixed(2)} ms/h (p = ${r.drift.latency.pValue.toFixed(3)})${r.drift.memory ? `, RSS ${(r.drift.memory.perHour / 1048576).toFixed(1)} MiB/h (p = ${r.drift.memory.pValue.toFixed(3)})` : ''} → ${r.drift.drifting ? 'DRIFTING' : 'stable'}`);
  }
  if (r.growth) lines.push(`  growth: ${r.growth.derivedFrom}`);
  for (const t of r.thresholds) lines.push(`  ${t.ok ? '✓' : '✗'} ${t.metric} ${t.expression} (actual ${Math.round(t.actual * 1000) / 1000})`);
  if (c) {
    lines.push(
      `  vs baseline ${c.baselineId}: median ${ms(c.baselineMedian)} → ${ms(c.currentMedian)} (${c.medianChangePct >= 0 ? '+' : ''}${c.medianChangePct.toFixed(1)}%), shift ${c.shift.shift.toFixed(2)} ms [${c.shift.low.toFixed(2)}, ${c.shift.high.toFixed(2)}] ${Math.round(c.shift.confidence * 100)}% CI, Mann–Whitney p = ${c.test.p.toPrecision(3)} → ${c.verdict.toUpperCase()}`,
    );
  }
  lines.push(`  ${r.passed && c?.verdict !== 'regressed' ? 'PASSED' : 'FAILED'}${id ? ` — stored as run ${id}` : ''}`);
  return lines.join('\n');
}

export default { build, run } satisfies Command;
