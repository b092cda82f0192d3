import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalCdf, theilSenMannKendall } from '../../src/query/stats.js';

test('normal CDF matches tables', () => {
  assert.ok(Math.abs(normalCdf(1.959964) - 0.975) < 1e-6);
  assert.ok(Math.abs(normalCdf(0) - 0.5) < 1e-7);
  assert.ok(Math.abs(normalCdf(-1) - 0.158655) < 1e-6);
});

test('Theil–Sen ignores an outlier that would drag least squares', () => {
  const xs = [...Array(20).keys()];
  const ys = xs.map((x) => 2 * x + 1);
  ys[19] = 1000;
  const fit = theilSenMannKendall(xs, ys);
  assert.equal(fit.slope, 2);
  assert.equal(fit.intercept, 1);
  assert.ok(fit.pValue < 0.001);
});

test('Mann–Kendall: S and p for a known small series', () => {
  // x = 1..5, y = [1, 3, 2, 5, 4]: concordant 8, discordant 2 → S = 6, var = 5·4·15/18 = 16.67
  const fit = theilSenMannKendall([1, 2, 3, 4, 5], [1, 3, 2, 5, 4]);
  assert.equal(fit.s, 6);
  const z = (6 - 1) / Math.sqrt(50 / 3);
  assert.ok(Math.abs(fit.pValue - 2 * (1 - normalCdf(z))) < 1e-9);
});

test('no trend in a constant series', () => {
  const fit = theilSenMannKendall([1, 2, 3, 4, 5, 6], [3, 3, 3, 3, 3, 3]);
  assert.equal(fit.slope, 0);
  assert.equal(fit.pValue, 1);
});
