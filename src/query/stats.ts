// Robust trend statistics. Theil–Sen (median of pairwise slopes) tolerates ~29% outliers, which a
// least-squares line does not; Mann–Kendall tests whether the monotonic trend is real. Both are the
// standard pair for environmental/ops time series (Hirsch et al. 1982; Gilbert 1987, ch. 16).

export interface TrendFit {
  slope: number;
  intercept: number;
  /** Mann–Kendall S statistic */
  s: number;
  /** two-sided p-value, normal approximation with tie correction */
  pValue: number;
  n: number;
}

export function median(sorted: number[]): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const m = n >> 1;
  return n % 2 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
}

export function theilSenMannKendall(xs: number[], ys: number[]): TrendFit {
  const n = xs.length;
  const slopes: number[] = [];
  let s = 0;
  for (let i = 0; i < n - 1; i++) {
    for (let j = i + 1; j < n; j++) {
      const dy = ys[j] - ys[i];
      s += Math.sign(dy) * Math.sign(xs[j] - xs[i]);
      if (xs[j] !== xs[i]) slopes.push(dy / (xs[j] - xs[i]));
    }
  }
  slopes.sort((a, b) => a - b);
  const slope = slopes.length ? median(slopes) : 0;
  const intercept = median(ys.map((y, i) => y - slope * xs[i]).sort((a, b) => a - b));
  return { slope, intercept, s, pValue: mannKendallP(s, ys), n };
}

function mannKendallP(s: number, ys: number[]): number {
  const n = ys.length;
  if (n < 3) return 1;
  const ties = new Map<number, number>();
  for (const y of ys) ties.set(y, (ties.get(y) ?? 0) + 1);
  let tieTerm = 0;
  for (const t of ties.values()) tieTerm += t * (t - 1) * (2 * t + 5);
  const variance = (n * (n - 1) * (2 * n + 5) - tieTerm) / 18;
  if (variance <= 0) return 1;
  const z = s > 0 ? (s - 1) / Math.sqrt(variance) : s < 0 ? (s + 1) / Math.sqrt(variance) : 0;
  return 2 * (1 - normalCdf(Math.abs(z)));
}

/** Standard normal CDF (Abramowitz & Stegun 26.2.17, |error| < 7.5e-8). */
export function normalCdf(z: number): number {
  const t = 1 / (1 + 0.2316419 * Math.abs(z));
  const d = 0.3989422804014327 * Math.exp((-z * z) / 2);
  const p = d * t * (0.31938153 + t * (-0.356563782 + t * (1.781477937 + t * (-1.821255978 + t * 1.330274429))));
  return z >= 0 ? 1 - p : p;
}
