// Lighthouse CI's assertions, in its own format (lighthouserc's `ci.assert.assertions`), so a team's
// existing lighthouserc.json works as it is:
//   "categories:performance": ["error", { "minScore": 0.9 }]
//   "largest-contentful-paint": ["warn", { "maxNumericValue": 2500 }]
//   "resource-summary:script:size": ["error", { "maxNumericValue": 150000 }]   (budgets: Lighthouse 12 dropped budget.json)
//   "uses-responsive-images": "error"                                           (the audit's score must be 1 … or ≥ 0.9 with minScore)
// Each assertion takes an aggregationMethod over a URL's runs, as LHCI's: "optimistic" (the best
// run; LHCI's default), "pessimistic" (the worst), "median", or "median-run" (the representative
// run's value). Levels: "error" fails the command, "warn" is shown, "off" is skipped.
import { PerfError } from '../errors.js';
import { median } from '../query/stats.js';
import { medianRun, type LighthouseRun } from './lighthouse.js';

export type Level = 'error' | 'warn' | 'off';
export type Aggregation = 'optimistic' | 'pessimistic' | 'median' | 'median-run';
interface Options {
  minScore?: number;
  maxScore?: number;
  maxNumericValue?: number;
  minNumericValue?: number;
  maxLength?: number;
  aggregationMethod?: Aggregation;
}
export type Assertions = Record<string, Level | [Level] | [Level, Options]>;

export interface AssertionResult {
  url: string;
  assertion: string;
  level: Exclude<Level, 'off'>;
  /** what was compared: "minScore", "maxNumericValue", … */
  operator: string;
  expected: number;
  actual: number | null;
  passed: boolean;
  aggregation: Aggregation;
  values: (number | null)[];
}

const KNOWN = new Set(['minScore', 'maxScore', 'maxNumericValue', 'minNumericValue', 'maxLength', 'aggregationMethod']);

/** Reads assertions from a lighthouserc-shaped object (`ci.assert.assertions`, `assert.assertions` or `assertions`). */
export function readAssertions(doc: unknown, where: string): Assertions {
  const d = doc as { ci?: { assert?: { assertions?: unknown } }; assert?: { assertions?: unknown }; assertions?: unknown };
  const a = d?.ci?.assert?.assertions ?? d?.assert?.assertions ?? d?.assertions;
  if (!a || typeof a !== 'object' || Array.isArray(a)) throw new PerfError('PERF_ERR_CONFIG', `${where}: no assertions (expected ci.assert.assertions, as in lighthouserc.json)`);
  for (const [name, v] of Object.entries(a)) {
    const [level, options] = Array.isArray(v) ? v : [v, undefined];
    if (!['error', 'warn', 'off'].includes(level as string)) throw new PerfError('PERF_ERR_CONFIG', `${where}: assertions.${name}: the level must be "error", "warn" or "off"`);
    if (options !== undefined) {
      if (typeof options !== 'object' || options === null) throw new PerfError('PERF_ERR_CONFIG', `${where}: assertions.${name}: options must be an object`);
      for (const k of Object.keys(options)) if (!KNOWN.has(k)) throw new PerfError('PERF_ERR_CONFIG', `${where}: assertions.${name}.${k} is not a Lighthouse CI assertion option (${[...KNOWN].join(', ')})`);
    }
  }
  return a as Assertions;
}

/** Evaluates the assertions against each URL's runs. */
export function assertRuns(runs: LighthouseRun[], assertions: Assertions): AssertionResult[] {
  const byUrl = new Map<string, LighthouseRun[]>();
  for (const r of runs) byUrl.set(r.url, [...(byUrl.get(r.url) ?? []), r]);
  const out: AssertionResult[] = [];
  for (const [url, list] of byUrl) {
    for (const [name, spec] of Object.entries(assertions)) {
      const [level, options = {}] = (Array.isArray(spec) ? spec : [spec]) as [Level, Options?];
      if (level === 'off') continue;
      const aggregation = options.aggregationMethod ?? 'optimistic';
      const checks = Object.entries(options).filter(([k]) => k !== 'aggregationMethod') as [keyof Options, number][];
      // a bare level: the audit's score must be 1 (LHCI's default), a category's 1 too
      if (checks.length === 0) checks.push(['minScore', 1]);
      for (const [operator, expected] of checks) {
        const numeric = operator === 'maxNumericValue' || operator === 'minNumericValue';
        const values = list.map((r) => valueOf(r, name, numeric));
        const higherIsBetter = operator === 'minScore' || operator === 'minNumericValue';
        const actual = aggregate(values, aggregation, higherIsBetter, list, (r) => valueOf(r, name, numeric));
        const passed = actual !== null && (operator === 'minScore' || operator === 'minNumericValue' ? actual >= expected : actual <= expected);
        out.push({ url, assertion: name, level, operator, expected, actual, passed, aggregation, values });
      }
    }
  }
  return out;
}

/** `categories:<id>` → its score; `resource-summary:<type>:<size|count>`; else the audit's score or numeric value. */
function valueOf(r: LighthouseRun, name: string, numeric: boolean): number | null {
  if (name.startsWith('categories:')) return r.categories[name.slice(11)] ?? null;
  if (name.startsWith('resource-summary:')) {
    const [, type, what] = name.split(':');
    const rs = r.resources[type];
    return rs ? (what === 'count' ? rs.count : rs.size) : 0;
  }
  const a = r.audits[name];
  if (!a) return null;
  return numeric ? (a.numericValue ?? null) : a.score;
}

function aggregate(values: (number | null)[], how: Aggregation, higherIsBetter: boolean, runs: LighthouseRun[], of: (r: LighthouseRun) => number | null): number | null {
  if (how === 'median-run') return of(medianRun(runs));
  const xs = values.filter((v): v is number => v !== null).sort((a, b) => a - b);
  if (xs.length === 0) return null;
  if (how === 'median') return median(xs);
  const best = higherIsBetter ? xs[xs.length - 1] : xs[0];
  const worst = higherIsBetter ? xs[0] : xs[xs.length - 1];
  return how === 'optimistic' ? best : worst;
}
