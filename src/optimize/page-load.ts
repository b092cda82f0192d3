// How a front-end fix (an image variant, a page rewrite) is proven: Lighthouse runs of the pages it
// touches, before and after interleaved (off/on, on/off, …, ≥ 5 of each, mobile with simulated
// throttling), then a Mann–Whitney test with a Hodges–Lehmann shift on the LCP and on the bytes
// transferred. It is kept when one of them is significantly lower by at least the minimum gain and
// neither is significantly higher, and when the page logs no more console errors than before (a
// deferred script that broke the page shows there).
import { compareLatencies, type Comparison } from '../loadtest/statistics.js';
import { openLighthouse, type LighthouseRun } from '../lab/lighthouse.js';

export interface PageLoadOptions {
  /** page URLs, each loaded once per run */
  pages: string[];
  /** runs of each setting (≥ 5) */
  runs: number;
  alpha: number;
  /** smallest gain kept, % of the before median */
  minImprovementPct: number;
  chromePath?: string;
  /** turns the fix off or on and waits until the app serves it */
  setActive(on: boolean): Promise<void>;
  log?: (m: string) => void;
}

/**
 * What the verdict reads, and all Lighthouse gathers: LCP and CLS, the bytes, console errors, and
 * FCP/TTI for the record. The other audits' gatherers (a full-page screenshot among them) would
 * double each run's time.
 */
const AUDITS = ['largest-contentful-paint', 'cumulative-layout-shift', 'total-byte-weight', 'errors-in-console', 'first-contentful-paint', 'interactive'];

export interface PageLoadSide {
  /** per run: the LCP (ms), the bytes transferred (total-byte-weight) and the CLS, summed over the pages */
  lcpMs: number[];
  bytes: number[];
  cls: number[];
  consoleErrors: number;
}

export interface PageLoadResult {
  pages: string[];
  runs: number;
  before: PageLoadSide;
  after: PageLoadSide;
  lcp: Comparison;
  bytes: Comparison;
  cls: Comparison;
  kept: boolean;
  /** why, in a sentence with the figures */
  reason: string;
}

export const MIN_PAGE_LOAD_RUNS = 5;
/**
 * A significant rise smaller than this (%) is not held against a fix: an attribute added to every
 * image adds a few hundred bytes to a page of hundreds of KiB, the same in every run, which the
 * test finds significant.
 */
export const REGRESSION_PCT = 1;

/** The fix is on when this starts and on when it ends. */
export async function measurePageLoad(o: PageLoadOptions): Promise<PageLoadResult> {
  const runs = Math.max(MIN_PAGE_LOAD_RUNS, o.runs);
  const session = await openLighthouse({ preset: 'mobile', chromePath: o.chromePath, onlyAudits: AUDITS });
  const lighthouse = async (urls: string[]) => {
    const out: LighthouseRun[] = [];
    for (const url of urls) out.push(await session.run(url));
    return out;
  };
  try {
    return await interleaved(o, runs, lighthouse);
  } finally {
    await session.close();
  }
}

async function interleaved(o: PageLoadOptions, runs: number, lighthouse: (urls: string[]) => Promise<LighthouseRun[]>): Promise<PageLoadResult> {
  const side = (): PageLoadSide => ({ lcpMs: [], bytes: [], cls: [], consoleErrors: 0 });
  const before = side();
  const after = side();
  let active = true;
  for (let i = 0; i < runs; i++) {
    for (const on of i % 2 === 0 ? [false, true] : [true, false]) {
      if (on !== active) {
        await o.setActive(on);
        active = on;
      }
      const results = await lighthouse(o.pages);
      const s = on ? after : before;
      s.lcpMs.push(results.reduce((sum, r) => sum + (r.metrics.largestContentfulPaint ?? 0), 0));
      s.bytes.push(results.reduce((sum, r) => sum + (r.audits['total-byte-weight']?.numericValue ?? 0), 0));
      s.cls.push(results.reduce((sum, r) => sum + (r.metrics.cumulativeLayoutShift ?? 0), 0));
      s.consoleErrors = Math.max(s.consoleErrors, results.reduce((sum, r) => sum + (r.audits['errors-in-console']?.itemCount ?? 0), 0));
      o.log?.(`  ${on ? 'after ' : 'before'} ${i + 1}/${runs}: LCP ${Math.round(s.lcpMs.at(-1)!)} ms, ${Math.round(s.bytes.at(-1)! / 1024)} KiB`);
    }
  }
  if (!active) await o.setActive(true);
  const lcp = compareLatencies(before.lcpMs, after.lcpMs, o.alpha);
  const bytes = compareLatencies(before.bytes, after.bytes, o.alpha);
  const cls = compareLatencies(before.cls, after.cls, o.alpha);
  return { pages: o.pages, runs, before, after, lcp, bytes, cls, ...verdict({ lcp, bytes, cls }, before, after, o.minImprovementPct) };
}

const fmt = (c: Comparison, unit: string, scale = 1, digits = 0) => `${(c.baselineMedian / scale).toFixed(digits)} → ${(c.currentMedian / scale).toFixed(digits)}${unit} (${c.medianChangePct.toFixed(1)}%, p = ${c.test.p.toExponential(2)})`;

export function verdict(c: { lcp: Comparison; bytes: Comparison; cls: Comparison }, before: PageLoadSide, after: PageLoadSide, minPct: number): { kept: boolean; reason: string } {
  const figures = `LCP ${fmt(c.lcp, ' ms')}; bytes ${fmt(c.bytes, ' KiB', 1024)}; CLS ${fmt(c.cls, '', 1, 3)}`;
  if (after.consoleErrors > before.consoleErrors) return { kept: false, reason: `the page logs more console errors after (${after.consoleErrors} vs ${before.consoleErrors}): ${figures}` };
  const names = { lcp: 'LCP', bytes: 'bytes transferred', cls: 'layout shift' } as const;
  // from a median of 0 (no layout shift) any rise is a rise: its % is not defined
  const risePct = (x: Comparison) => (x.baselineMedian === 0 ? (x.currentMedian > 0 ? Infinity : 0) : x.medianChangePct);
  for (const k of ['lcp', 'bytes', 'cls'] as const) if (c[k].verdict === 'regressed' && risePct(c[k]) > REGRESSION_PCT) return { kept: false, reason: `${names[k]} significantly worse: ${figures}` };
  const gains = (x: Comparison) => x.verdict === 'improved' && -x.medianChangePct >= minPct;
  if (gains(c.lcp) || gains(c.bytes) || gains(c.cls)) return { kept: true, reason: figures };
  return { kept: false, reason: `neither LCP, bytes nor layout shift significantly lower by ${minPct}% or more: ${figures}` };
}
