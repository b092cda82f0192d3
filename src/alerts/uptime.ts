// Synthetic uptime checks (alerting.uptime): an HTTP GET of each configured endpoint every
// interval, with a timeout and an expected status (and optionally a body substring). Each check is
// stored like any metric — solemate.uptime.checks{check, result=success|failure} and
// solemate.uptime.duration{check} — so uptime % per endpoint and window comes from the store, rules
// can alert on failures, and the uptime SLO counts them.
import type { MetricPoint } from '../model/metrics.js';
import { ExpHistogram } from '../model/histogram.js';
import type { Store } from '../store/store.js';
import { UPTIME_METRIC } from './slo.js';
import type { UptimeCheck } from '../config/schema.js';

export type { UptimeCheck };

export const UPTIME_DURATION = 'solemate.uptime.duration';

export interface CheckResult {
  check: string;
  at: number;
  ok: boolean;
  ms: number;
  status?: number;
  error?: string;
}

export async function runCheck(c: UptimeCheck, now = Date.now()): Promise<CheckResult> {
  const t0 = performance.now();
  try {
    const res = await fetch(c.url, { signal: AbortSignal.timeout(c.timeout), redirect: 'manual' });
    const body = await res.text();
    const ms = performance.now() - t0;
    if (res.status !== c.expectStatus) return { check: c.name, at: now, ok: false, ms, status: res.status, error: `status ${res.status}, expected ${c.expectStatus}` };
    if (c.expectBody !== undefined && !body.includes(c.expectBody)) return { check: c.name, at: now, ok: false, ms, status: res.status, error: `body does not contain "${c.expectBody}"` };
    return { check: c.name, at: now, ok: true, ms, status: res.status };
  } catch (e) {
    const err = e as Error & { cause?: { code?: string } };
    return { check: c.name, at: now, ok: false, ms: performance.now() - t0, error: err.name === 'TimeoutError' ? `no answer within ${c.timeout} ms` : (err.cause?.code ?? err.message) };
  }
}

/** The points one check result becomes. */
export function checkPoints(r: CheckResult, service = 'solemate-performance', instance = 'uptime'): MetricPoint[] {
  const h = new ExpHistogram();
  h.record(Math.max(r.ms, 0.001) / 1000);
  const base = { service, instance, startTime: r.at - 1, time: r.at };
  return [
    { ...base, metric: UPTIME_METRIC, kind: 'counter', unit: '{check}', attributes: { check: r.check, result: r.ok ? 'success' : 'failure' }, count: 1, sum: 1, min: 1, max: 1, last: 1 },
    { ...base, metric: UPTIME_DURATION, kind: 'histogram', unit: 's', attributes: { check: r.check }, count: 1, sum: h.sum, min: h.min, max: h.max, last: 0, hist: h.toData() },
  ];
}

/** Runs every check on its own interval and stores the outcome; last() for the API. */
export class UptimeMonitor {
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly latest = new Map<string, CheckResult>();

  constructor(
    private readonly checks: UptimeCheck[],
    private readonly store: Store,
    private readonly onError: (e: Error) => void = () => {},
  ) {}

  start(): void {
    for (const c of this.checks) {
      const t = setInterval(() => void this.once(c), c.interval);
      t.unref();
      this.timers.push(t);
      void this.once(c);
    }
  }

  async once(c: UptimeCheck): Promise<CheckResult> {
    const r = await runCheck(c);
    this.latest.set(c.name, r);
    await this.store.write(checkPoints(r)).catch((e: Error) => this.onError(e));
    return r;
  }

  last(): CheckResult[] {
    return [...this.latest.values()];
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
  }
}
