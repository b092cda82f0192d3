// When an OTLP/HTTP export is tried again, and after how long. Pure functions: the exporter
// (otlp.ts) owns the timers.
//
// Statuses follow the OTLP/HTTP spec (https://opentelemetry.io/docs/specs/otlp/#otlphttp-response):
// 429, 502, 503 and 504 are retryable; "all other 4xx or 5xx response status codes MUST NOT be
// retried". That includes 500: it says the server failed on this request, not that it is busy, and
// sending the same payload again would most likely fail the same way while everything queued behind
// it waits. A 500 batch is dropped at once and counted (solemate.sdk.dropped{reason="export_failed"});
// the count travels with the next batch. A connection that is refused, reset or times out never
// reached a verdict, so it is retried (the spec's "SHOULD retry ... with exponential backoff").

/** Statuses the OTLP/HTTP spec calls retryable. */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([429, 502, 503, 504]);

/**
 * Longest wait a `Retry-After` can impose (5 minutes: the OpenTelemetry Collector's default
 * `max_elapsed_time` for a retried export). A larger value — a misconfigured proxy asking for an
 * hour — is cut to this, so export resumes while the bounded buffer still holds recent data.
 */
export const MAX_RETRY_AFTER_MS = 300_000;

/**
 * A `Retry-After` header in milliseconds from `now`: delta-seconds or an HTTP-date (RFC 9110
 * §10.2.3). A date in the past is 0; an absent or malformed header is undefined.
 */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  // an HTTP-date names a weekday and a month; this also keeps Date.parse away from "1.5" or "-1"
  if (!/[a-z]{3}/i.test(v)) return undefined;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"). */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  return random() * Math.min(maxMs, baseMs * 2 ** Math.min(attempt - 1, 30));
}

/**
 * The wait before the next attempt: the jittered backoff, and never less than the server's
 * `Retry-After` (capped at maxRetryAfterMs).
 */
export function retryDelayMs(attempt: number, retryAfterMs: number | undefined, o: { baseBackoffMs: number; maxBackoffMs: number; maxRetryAfterMs: number }, random: () => number = Math.random): number {
  const jittered = backoffMs(attempt, o.baseBackoffMs, o.maxBackoffMs, random);
  return retryAfterMs === undefined ? jittered : Math.max(Math.min(retryAfterMs, o.maxRetryAfterMs), jittered);
}
