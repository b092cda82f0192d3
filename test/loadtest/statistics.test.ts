import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareLatencies, fitUsl, hodgesLehmann, inverseNormal, mannWhitneyU, withExpectedInterval } from '../../src/loadtest/statistics.js';
import { logNormal } from '../helpers.js';

test('Mann–Whitney U matches a hand-computed case, ties included', () => {
  // a = 1..5, b = 4..8: U(a) counts pairs with a > b (5 > 4) plus half the ties (4,4), (5,5) → U = 2
  const r = mannWhitneyU([1, 2, 3, 4, 5], [4, 5, 6, 7, 8]);
  assert.equal(r.u, 2);
  // by hand: μ = 12.5, σ² = (25/12)(11 − 12/90) = 22.64 (tie-corrected), z = (2 − 12.5 + 0.5)/4.758 = −2.102,
  // two-sided p = 0.0356 (the normal approximation with continuity correction)
  assert.ok(Math.abs(r.p - 0.0356) < 0.0005, `p ${r.p}`);
  assert.equal(mannWhitneyU([1, 1, 1], [1, 1, 1]).p, 1, 'all tied: no evidence');
  assert.throws(() => mannWhitneyU([], [1]), RangeError);
});

test('a real 10% shift is found with a CI around it; the same distribution is "no change"', () => {
  const base = logNormal(3000, Math.log(20), 0.3, 1);
  const slower = logNormal(3000, Math.log(22), 0.3, 2);
  const same = logNormal(3000, Math.log(20), 0.3, 3);
  const c = compareLatencies(base, slower);
  assert.equal(c.verdict, 'regressed');
  assert.ok(c.test.p < 1e-6);
  assert.ok(c.medianChangePct > 7 && c.medianChangePct < 13, `${c.medianChangePct}`);
  assert.ok(c.shift.low < 2 && c.shift.high > 2, `true shift of the medians ≈ 2 ms in [${c.shift.low}, ${c.shift.high}]`);
  assert.equal(compareLatencies(slower, base).verdict, 'improved');
  assert.equal(compareLatencies(base, same).verdict, 'no change');
});

test('Hodges–Lehmann: exact on a pure shift', () => {
  const a = Array.from({ length: 200 }, (_, i) => i);
  const h = hodgesLehmann(a, a.map((x) => x + 5));
  assert.equal(h.shift, 5);
  assert.ok(h.low <= 5 && h.high >= 5 && h.high - h.low < 40);
});

test('inverse normal', () => {
  assert.ok(Math.abs(inverseNormal(0.975) - 1.959964) < 1e-6);
  assert.ok(Math.abs(inverseNormal(0.5)) < 1e-12);
  assert.ok(Math.abs(inverseNormal(0.001) + 3.090232) < 1e-6);
});

test('coordinated omission: a stall hides the requests that were due meanwhile', () => {
  const got: number[] = [];
  withExpectedInterval(100, 10, (v) => got.push(v));
  assert.deepEqual(got, [100, 90, 80, 70, 60, 50, 40, 30, 20, 10]);
  const fast: number[] = [];
  withExpectedInterval(5, 10, (v) => fast.push(v));
  assert.deepEqual(fast, [5]);
});

test('USL fit recovers σ, κ, λ from noisy steps and finds the peak', () => {
  const [lambda, sigma, kappa] = [1000, 0.05, 0.002];
  let s = 7;
  const noise = () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32 - 0.5) * 0.04; // ±2%
  const steps = [1, 2, 4, 8, 16, 32, 64].map((n) => ({ concurrency: n, throughput: ((lambda * n) / (1 + sigma * (n - 1) + kappa * n * (n - 1))) * (1 + noise()) }));
  const fit = fitUsl(steps);
  assert.ok(Math.abs(fit.lambda - lambda) / lambda < 0.05, `λ ${fit.lambda}`);
  assert.ok(Math.abs(fit.sigma - sigma) < 0.02, `σ ${fit.sigma}`);
  assert.ok(Math.abs(fit.kappa - kappa) < 0.0008, `κ ${fit.kappa}`);
  const truePeak = Math.sqrt((1 - sigma) / kappa); // ≈ 21.8
  assert.ok(Math.abs(fit.peakConcurrency - truePeak) / truePeak < 0.2, `peak N ${fit.peakConcurrency}`);
  assert.ok(fit.r2 > 0.98);
  // linear scaling: no contention, no peak
  const linear = fitUsl([1, 2, 4, 8].map((n) => ({ concurrency: n, throughput: 100 * n })));
  assert.ok(linear.sigma < 1e-6 && linear.kappa < 1e-9);
  assert.equal(linear.peakConcurrency, Infinity);
  assert.throws(() => fitUsl([{ concurrency: 1, throughput: 5 }]), RangeError);
});
