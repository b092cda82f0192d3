// The ingest queue: OTLP requests are decoded and stored one at a time (the work is CPU and one
// store connection; two at once only take twice as long each), and at most `max` wait. Past that
// the answer is 429 with Retry-After, which every OpenTelemetry exporter honours by sending the
// same batch again later (OTLP/HTTP spec, "Failures"): the client keeps its data, the server its
// memory.
import { PerfError } from '../errors.js';

export class IngestQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private waiting = 0;
  /** moving average of one job's duration (ms), for Retry-After */
  private jobMs = 50;

  constructor(private readonly max: number) {}

  get length(): number {
    return this.waiting;
  }

  /** Runs `job` after those queued before it; throws PERF_ERR_BUSY (429) when `max` already wait. */
  run<T>(job: () => Promise<T>): Promise<T> {
    if (this.waiting >= this.max) {
      throw new PerfError('PERF_ERR_BUSY', `the server is storing ${this.waiting} requests; send this one again after Retry-After`, { retryAfter: this.retryAfter() });
    }
    this.waiting++;
    const start = async () => {
      const t = performance.now();
      try {
        return await job();
      } finally {
        this.jobMs = 0.8 * this.jobMs + 0.2 * (performance.now() - t);
        this.waiting--;
      }
    };
    const result = this.tail.then(start, start);
    this.tail = result.catch(() => {});
    return result;
  }

  /** Seconds until the queue has likely drained, 1 to 30. */
  retryAfter(): number {
    return Math.min(30, Math.max(1, Math.ceil((this.waiting * this.jobMs) / 1000)));
  }
}
