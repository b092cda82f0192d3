// HTTP for the reliability suite: node:http to 127.0.0.1 only, a timeout on every request, and the
// /healthz prober whose latencies are the suite's measure of "the server stays responsive".
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  ms: number;
}

export interface RequestOptions {
  method?: string;
  headers?: http.OutgoingHttpHeaders;
  body?: Buffer;
  timeoutMs?: number;
  /** a keep-alive agent; default: one connection per request */
  agent?: http.Agent;
}

/** Every URL the suite uses passes through here: nothing leaves the machine. */
export function loopback(url: string): URL {
  const u = new URL(url);
  if (u.hostname !== '127.0.0.1') throw new Error(`the reliability suite talks to 127.0.0.1 only, not ${u.hostname}`);
  return u;
}

export function request(url: string, options: RequestOptions = {}): Promise<Answer> {
  const u = loopback(url);
  const method = options.method ?? 'GET';
  const timeoutMs = options.timeoutMs ?? 30_000;
  const headers: http.OutgoingHttpHeaders = { ...options.headers };
  if (options.body) headers['content-length'] = options.body.length;
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers, agent: options.agent ?? false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), ms: performance.now() - t0 }));
      res.on('error', reject);
      // a server killed mid-answer: the response never completes
      res.on('close', () => {
        if (!res.complete) reject(new Error(`${method} ${u.pathname}: connection closed mid-answer`));
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${u.pathname}: no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

export interface Latency {
  /** answered probes */
  n: number;
  p50: number;
  p99: number;
  max: number;
  /** probes that got no 200 (refused, timed out, another status); their time is in max */
  failed: number;
  /** when the slowest probe started, ms after the first */
  maxAtMs: number;
}

/** Nearest-rank percentile of samples sorted ascending. */
function rank(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

export function summarize(ms: number[], failed = 0, at: number[] = []): Latency {
  const s = [...ms].sort((a, b) => a - b);
  let worst = 0;
  for (let i = 1; i < ms.length; i++) if (ms[i] > ms[worst]) worst = i;
  return { n: s.length, p50: rank(s, 0.5), p99: rank(s, 0.99), max: s.length ? s[s.length - 1] : NaN, failed, maxAtMs: at[worst] ?? NaN };
}

/**
 * GET /healthz every `everyMs` (from one probe's start to the next; a slow answer delays the next
 * probe, never two at once), on one keep-alive connection as a load balancer's health check would.
 */
export class Prober {
  private readonly ms: number[] = [];
  private readonly at: number[] = [];
  private failed = 0;
  private running = true;
  private readonly done: Promise<void>;

  constructor(url: () => string, everyMs: number) {
    this.done = this.loop(url, everyMs);
  }

  private async loop(url: () => string, everyMs: number): Promise<void> {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const start = performance.now();
    try {
      while (this.running) {
        const t0 = performance.now();
        this.at.push(t0 - start);
        try {
          const a = await request(`${url()}/healthz`, { agent, timeoutMs: 10_000 });
          if (a.status !== 200) this.failed++;
          this.ms.push(a.ms);
        } catch {
          this.failed++;
          this.ms.push(performance.now() - t0);
        }
        const wait = everyMs - (performance.now() - t0);
        if (wait > 0) await sleep(wait);
      }
    } finally {
      agent.destroy();
    }
  }

  async stop(): Promise<Latency> {
    this.running = false;
    await this.done;
    return summarize(this.ms, this.failed, this.at);
  }
}

/** ms from `since` until GET /healthz answers 200 (polled every 10 ms), or throws after `deadlineMs`. */
export async function untilHealthy(url: string, since: number, deadlineMs: number): Promise<number> {
  for (;;) {
    try {
      const a = await request(`${url}/healthz`, { timeoutMs: 2_000 });
      if (a.status === 200) return performance.now() - since;
    } catch {
      // not listening yet
    }
    if (performance.now() - since > deadlineMs) throw new Error(`${url}/healthz did not answer 200 within ${deadlineMs} ms`);
    await sleep(10);
  }
}
