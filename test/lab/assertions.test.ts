// Lighthouse CI's assertion format over runs: levels, options, aggregation methods, budgets as
// resource-summary assertions, and the representative run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertRuns, readAssertions } from '../../src/lab/assertions.js';
import { medianRun, type LighthouseRun } from '../../src/lab/lighthouse.js';

function run(perf: number, lcp: number, fcp: number, tti: number, scriptBytes: number, responsive: number | null = 1): LighthouseRun {
  return {
    url: 'http://127.0.0.1:3000/',
    finalUrl: 'http://127.0.0.1:3000/',
    fetchTime: '2026-12-07T00:00:00.000Z',
    preset: 'mobile',
    lighthouseVersion: '12.8.2',
    categories: { performance: perf, accessibility: 1 },
    metrics: { firstContentfulPaint: fcp, largestContentfulPaint: lcp, interactive: tti, totalBlockingTime: 10, cumulativeLayoutShift: 0.01, speedIndex: fcp },
    audits: { 'largest-contentful-paint': { score: lcp < 2500 ? 1 : 0.5, numericValue: lcp }, 'uses-responsive-images': { score: responsive, savingsBytes: 90_000 } },
    resources: { total: { count: 12, size: scriptBytes + 50_000 }, script: { count: 3, size: scriptBytes } },
  };
}
const runs = [run(0.72, 3900, 1500, 4000, 180_000), run(0.91, 2100, 1000, 2600, 180_000), run(0.85, 2600, 1200, 3100, 180_000, 0.5)];

test('the representative run is the one closest to the median FCP and TTI', () => {
  assert.equal(medianRun(runs).metrics.largestContentfulPaint, 2600);
});

test('assertions: minScore, maxNumericValue, budgets, bare levels; aggregation as LHCI does it', () => {
  const a = readAssertions(
    {
      ci: {
        assert: {
          assertions: {
            'categories:performance': ['error', { minScore: 0.9 }],
            'largest-contentful-paint': ['warn', { maxNumericValue: 2500, aggregationMethod: 'median' }],
            'resource-summary:script:size': ['error', { maxNumericValue: 150_000 }],
            'uses-responsive-images': 'error',
            'categories:accessibility': 'off',
          },
        },
      },
    },
    'lighthouserc.json',
  );
  const r = assertRuns(runs, a);
  const by = Object.fromEntries(r.map((x) => [x.assertion, x]));
  assert.equal(r.length, 4, '"off" is skipped');
  // optimistic (the default): the best run's performance score, 0.91 ≥ 0.9
  assert.deepEqual([by['categories:performance'].actual, by['categories:performance'].passed], [0.91, true]);
  // median of 2100, 2600, 3900 = 2600 > 2500: a warning
  assert.deepEqual([by['largest-contentful-paint'].actual, by['largest-contentful-paint'].passed, by['largest-contentful-paint'].level], [2600, false, 'warn']);
  // the budget: 180 KB of script in every run
  assert.deepEqual([by['resource-summary:script:size'].actual, by['resource-summary:script:size'].passed], [180_000, false]);
  // a bare level means a score of 1; optimistic takes the best run's (1)
  assert.equal(by['uses-responsive-images'].passed, true);
  const pessimistic = assertRuns(runs, { 'uses-responsive-images': ['error', { minScore: 1, aggregationMethod: 'pessimistic' }], 'categories:performance': ['error', { minScore: 0.8, aggregationMethod: 'median-run' }] });
  assert.deepEqual(pessimistic.map((x) => [x.actual, x.passed]), [[0.5, false], [0.85, true]]);
});

test('a malformed assertions file is a config error that names the field', () => {
  assert.throws(() => readAssertions({ ci: {} }, 'rc.json'), /rc.json: no assertions/);
  assert.throws(() => readAssertions({ assertions: { 'categories:performance': ['fatal'] } }, 'rc.json'), /assertions.categories:performance: the level must be "error", "warn" or "off"/);
  assert.throws(() => readAssertions({ assertions: { 'first-contentful-paint': ['error', { maxValue: 3 }] } }, 'rc.json'), /first-contentful-paint.maxValue is not a Lighthouse CI assertion option/);
});
