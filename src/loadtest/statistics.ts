// The statistics a load test reports:
//  - Mann–Whitney U (normal approximation with tie correction), two-sided, for "did latency change"
//  - Hodges–Lehmann shift (median of pairwise differences) with its distribution-free confidence
//    interval (order statistics of the pairwise differences, Bauer 1972)
//  - coordinated-omission correction (HdrHistogram's recordValueWithExpectedInterval)
//  - the Universal Scalability Law fitted to (concurrency, throughput) steps (Gunther)
import { normalCdf } from '../query/stats.js';

export interface MannWhitney {
  u: number;
  z: number;
  /** two-sided */
  p: number;
}

export function mannWhitneyU(a: number[], b: number[]): MannWhitney {
  const n1 = a.length;
  const n2 = b.length;
  if (n1 === 0 || n2 === 0) throw new RangeError('Mann–Whitney U needs samples on both sides');
  const all = [...a.map((v) => ({ v, g: 0 })), ...b.map((v) => ({ v, g: 1 }))].sort((x, y) => x.v - y.v);
  let r1 = 0;
  let tieTerm = 0;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j + 1 < all.length && all[j + 1].v === all[i].v) j++;
    const rank = (i + j) / 2 + 1;
    const t = j - i + 1;
    if (t > 1) tieTerm += t ** 3 - t;
    for (let k = i; k <= j; k++) if (all[k].g === 0) r1 += rank;
    i = j + 1;
  }
  const u1 = r1 - (n1 * (n1 + 1)) / 2;
  const n = n1 + n2;
  const mu = (n1 * n2) / 2;
  const sigma = Math.sqrt(((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1))));
  if (sigma === 0) return { u: u1, z: 0, p: 1 };
  // continuity correction towards the mean
  const z = (u1 - mu - Math.sign(u1 - mu) * 0.5) / sigma;
  return { u: u1, z, p: Math.min(1, 2 * (1 - normalCdf(Math.abs(z)))) };
}

export interface ShiftEstimate {
  /** Hodges–Lehmann estimate of (b − a): the median of all pairwise differences */
  shift: number;
  low: number;
  high: number;
  confidence: number;
}

/**
 * Shift of b relative to a with a confidence interval. For large samples both are subsampled
 * (deterministically, evenly spaced after sorting) to at most `maxEach` values, which keeps the
 * pairwise differences to maxEach² while preserving the distributions' shape.
 */
export function hodgesLehmann(a: number[], b: number[], confidence = 0.95, maxEach = 1000): ShiftEstimate {
  const sa = thin([...a].sort((x, y) => x - y), maxEach);
  const sb = thin([...b].sort((x, y) => x - y), maxEach);
  const m = sa.length;
  const n = sb.length;
  const diffs = new Float64Array(m * n);
  let k = 0;
  for (const y of sb) for (const x of sa) diffs[k++] = y - x;
  diffs.sort();
  const mid = diffs.length / 2;
  const shift = diffs.length % 2 ? diffs[Math.floor(mid)] : (diffs[mid - 1] + diffs[mid]) / 2;
  // the interval runs from the C-th smallest to the C-th largest difference
  const z = inverseNormal(1 - (1 - confidence) / 2);
  const c = Math.max(1, Math.floor((m * n) / 2 - z * Math.sqrt((m * n * (m + n + 1)) / 12)));
  return { shift, low: diffs[Math.min(c - 1, diffs.length - 1)], high: diffs[Math.max(diffs.length - c, 0)], confidence };
}

function thin(sorted: number[], max: number): number[] {
  if (sorted.length <= max) return sorted;
  const out = new Array<number>(max);
  for (let i = 0; i < max; i++) out[i] = sorted[Math.floor(((i + 0.5) * sorted.length) / max)];
  return out;
}

/** Acklam's rational approximation of the standard normal quantile (|error| < 1.2e-9). */
export function inverseNormal(p: number): number {
  if (p <= 0 || p >= 1) throw new RangeError('p must be in (0, 1)');
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - lo) return -inverseNormal(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

export type Verdict = 'improved' | 'no change' | 'regressed';

export interface Comparison {
  baselineMedian: number;
  currentMedian: number;
  /** (current − baseline) / baseline median, % */
  medianChangePct: number;
  shift: ShiftEstimate;
  test: MannWhitney;
  alpha: number;
  verdict: Verdict;
}

/** Latency samples (lower is better) of a baseline run and the current one. */
export function compareLatencies(baseline: number[], current: number[], alpha = 0.05): Comparison {
  const test = mannWhitneyU(baseline, current);
  const shift = hodgesLehmann(baseline, current, 1 - alpha);
  const med = (xs: number[]) => {
    const s = [...xs].sort((x, y) => x - y);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  const bm = med(baseline);
  const cm = med(current);
  const significant = test.p < alpha && (shift.low > 0 || shift.high < 0);
  const verdict: Verdict = !significant ? 'no change' : shift.shift < 0 ? 'improved' : 'regressed';
  return { baselineMedian: bm, currentMedian: cm, medianChangePct: bm === 0 ? 0 : ((cm - bm) / bm) * 100, shift, test, alpha, verdict };
}

/**
 * Coordinated-omission correction: a request that took `value` when requests were due every
 * `interval` hid the requests that should have been sent meanwhile; they are added with the
 * latencies they would have seen (value − interval, value − 2·interval, …).
 */
export function withExpectedInterval(value: number, interval: number, record: (v: number) => void): void {
  record(value);
  if (!(interval > 0) || value <= interval) return;
  for (let missing = value - interval; missing >= interval; missing -= interval) record(missing);
}

export interface UslFit {
  /** contention (serialisation) */
  sigma: number;
  /** coherency (crosstalk) */
  kappa: number;
  /** throughput of one unit of concurrency */
  lambda: number;
  /** concurrency of peak throughput; Infinity when κ = 0 (no retrograde region) */
  peakConcurrency: number;
  peakThroughput: number;
  /** coefficient of determination of the fitted throughput against the measured */
  r2: number;
  points: number;
}

/** The Universal Scalability Law: throughput at concurrency n, X(n) = λn / (1 + σ(n − 1) + κn(n − 1)). */
export function usl(lambda: number, sigma: number, kappa: number, n: number): number {
  return (lambda * n) / (1 + sigma * (n - 1) + kappa * n * (n - 1));
}

/**
 * Fits X(N) = λN / (1 + σ(N − 1) + κN(N − 1)) by least squares on throughput. For a given λ, σ and
 * κ come from the linearised form N·λ/X(N) − 1 = σ(N − 1) + κN(N − 1) (both constrained ≥ 0);
 * λ itself is found by golden-section search, because the first step is often the least reliable
 * (a cold JIT, a cold cache) and pinning λ to it skews the whole curve.
 */
export function fitUsl(steps: { concurrency: number; throughput: number }[]): UslFit {
  const pts = steps.filter((s) => s.concurrency > 0 && s.throughput > 0).sort((a, b) => a.concurrency - b.concurrency);
  if (pts.length < 3) throw new RangeError('the USL fit needs at least three steps with throughput');
  const solve = (lambda: number): { sigma: number; kappa: number } => {
    let sxx = 0;
    let sxy = 0;
    let syy = 0;
    let sxt = 0;
    let syt = 0;
    for (const { concurrency: n, throughput } of pts) {
      const x = n - 1;
      const y = n * (n - 1);
      const t = (n * lambda) / throughput - 1;
      sxx += x * x;
      sxy += x * y;
      syy += y * y;
      sxt += x * t;
      syt += y * t;
    }
    const det = sxx * syy - sxy * sxy;
    const sigma = det === 0 ? 0 : (sxt * syy - syt * sxy) / det;
    const kappa = det === 0 ? 0 : (syt * sxx - sxt * sxy) / det;
    if (sigma >= 0 && kappa >= 0) return { sigma, kappa };
    // the constrained optimum lies on a boundary: one parameter with the other at 0
    const s1 = sxx > 0 ? Math.max(0, sxt / sxx) : 0;
    const k1 = syy > 0 ? Math.max(0, syt / syy) : 0;
    const err = (s: number, k: number) => pts.reduce((e, { concurrency: n, throughput }) => e + ((n * lambda) / throughput - 1 - s * (n - 1) - k * n * (n - 1)) ** 2, 0);
    return err(s1, 0) <= err(0, k1) ? { sigma: s1, kappa: 0 } : { sigma: 0, kappa: k1 };
  };
  const sse = (lambda: number) => {
    const { sigma, kappa } = solve(lambda);
    return pts.reduce((e, p) => e + (p.throughput - usl(lambda, sigma, kappa, p.concurrency)) ** 2, 0);
  };
  // λ is at least the best per-unit throughput seen (σ, κ ≥ 0 only lose throughput)
  const best = Math.max(...pts.map((p) => p.throughput / p.concurrency));
  let a = best;
  let b = best * 4;
  const g = (Math.sqrt(5) - 1) / 2;
  let c = b - g * (b - a);
  let d = a + g * (b - a);
  for (let i = 0; i < 80; i++) {
    if (sse(c) < sse(d)) b = d;
    else a = c;
    c = b - g * (b - a);
    d = a + g * (b - a);
  }
  const lambda = (a + b) / 2;
  const { sigma, kappa } = solve(lambda);
  const peakConcurrency = kappa > 0 ? Math.sqrt((1 - sigma) / kappa) : Infinity;
  const peakThroughput = kappa > 0 ? usl(lambda, sigma, kappa, peakConcurrency) : sigma > 0 ? lambda / sigma : Infinity;
  const mean = pts.reduce((s, p) => s + p.throughput, 0) / pts.length;
  const ssTot = pts.reduce((s, p) => s + (p.throughput - mean) ** 2, 0);
  return { sigma, kappa, lambda, peakConcurrency, peakThroughput, r2: ssTot === 0 ? 1 : 1 - sse(lambda) / ssTot, points: pts.length };
}
