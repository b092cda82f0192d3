import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffMs, MAX_RETRY_AFTER_MS, parseRetryAfter, RETRYABLE_STATUSES, retryDelayMs } from '../../src/exporters/retry.js';

test('retryable statuses are exactly the OTLP/HTTP spec’s: 429, 502, 503, 504 (not 500, not 400)', () => {
  assert.deepEqual([...RETRYABLE_STATUSES].sort(), [429, 502, 503, 504]);
  for (const s of [400, 401, 403, 404, 408, 413, 500, 501]) assert.equal(RETRYABLE_STATUSES.has(s), false, String(s));
});

test('Retry-After: delta-seconds, HTTP-date, past dates, garbage', () => {
  const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');
  assert.equal(parseRetryAfter('120', now), 120_000);
  assert.equal(parseRetryAfter(' 0 ', now), 0);
  assert.equal(parseRetryAfter('Wed, 21 Oct 2015 07:28:30 GMT', now), 30_000);
  assert.equal(parseRetryAfter('Wed, 21 Oct 2015 07:27:00 GMT', now), 0, 'a date in the past: no wait');
  for (const bad of [null, undefined, '', '1.5', '-3', 'soon', '12abc']) assert.equal(parseRetryAfter(bad, now), undefined, String(bad));
});

test('backoff: full jitter under an exponential cap; Retry-After is a floor, capped', () => {
  const o = { baseBackoffMs: 100, maxBackoffMs: 1000, maxRetryAfterMs: 5000 };
  assert.equal(backoffMs(1, 100, 1000, () => 0.999999) < 100, true);
  assert.equal(Math.round(backoffMs(3, 100, 1000, () => 1)), 400);
  assert.equal(Math.round(backoffMs(50, 100, 1000, () => 1)), 1000, 'capped, no overflow at high attempts');
  assert.equal(backoffMs(2, 100, 1000, () => 0), 0);
  assert.equal(retryDelayMs(1, 2000, o, () => 0.5), 2000, 'never before Retry-After');
  assert.equal(retryDelayMs(4, 10, o, () => 1), 800, 'a short Retry-After does not shorten the backoff');
  assert.equal(retryDelayMs(1, 3_600_000, o, () => 0), 5000, 'an hour is cut to maxRetryAfterMs');
  assert.equal(MAX_RETRY_AFTER_MS, 300_000);
});
