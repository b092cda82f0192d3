// Case 4 of the reliability suite: what a 200 promises. Senders send batches of known increments
// (and spans) without pause; the server is SIGKILLed and restarted on the same file several times;
// unacknowledged batches are sent again to the new server, as an OTLP exporter retries. At the end
// the store file is read directly: every acknowledged increment must be there (at least once).
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { request } from './http.js';
import { COUNTER_METRIC, COUNTER_SERVICE, counterBatch, counterCell, seriesName, spanBatch, spanId, TRACE_PREFIX, traceId, type CounterLayout } from './payloads.js';
import { startServer, stopServer, type ServerProcess } from './server.js';

export interface DurabilityOptions {
  data: string;
  logFile: string;
  durationMs: number;
  /** when to SIGKILL the server, ms after the start */
  killsAtMs: number[];
  layout: CounterLayout;
  metricSenders: number;
  traces: number;
  spansPerTrace: number;
}

export interface Restart {
  atMs: number;
  /** requests on the wire when the server died */
  inFlight: number;
  /** ms from the kill to the new server answering /healthz */
  downMs: number;
  healthyMs: number;
}

interface Delivery {
  acked: Set<number>;
  /** acknowledged batches that had an earlier attempt cut short: the only ones that may be stored twice */
  uncertain: Set<number>;
  attempts: number;
  connectionErrors: number;
  busy: number;
}

export interface DurabilityResult {
  restarts: Restart[];
  batches: number;
  metrics: Delivery & { ackedIncrements: number; storedIncrements: number; lost: number; duplicates: number; unexpected: number };
  spans: Delivery & { ackedSpans: number; storedSpans: number; lost: number; unexpected: number };
}

class StatusError extends Error {}

/** The running server for the senders; while it is being replaced, `ready` waits for the new one. */
class Board {
  ready: Promise<ServerProcess>;
  inFlight = 0;
  constructor(server: ServerProcess) {
    this.ready = Promise.resolve(server);
  }

  async replace(start: () => Promise<ServerProcess>): Promise<{ inFlight: number; downMs: number; server: ServerProcess }> {
    const old = await this.ready;
    let resolve!: (s: ServerProcess) => void;
    let reject!: (e: unknown) => void;
    this.ready = new Promise((res, rej) => ((resolve = res), (reject = rej)));
    this.ready.catch(() => {});
    const inFlight = this.inFlight;
    const t0 = performance.now();
    await stopServer(old, 'SIGKILL');
    try {
      const server = await start();
      resolve(server);
      return { inFlight, downMs: performance.now() - t0, server };
    } catch (e) {
      reject(e);
      throw e;
    }
  }
}

/** POSTs `body` until a 200, against whichever server runs; 429/503 wait Retry-After. */
async function deliver(board: Board, path: string, body: Buffer, d: Delivery): Promise<boolean> {
  let uncertain = false;
  for (;;) {
    const server = await board.ready;
    d.attempts++;
    board.inFlight++;
    try {
      const a = await request(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' }, body, timeoutMs: 30_000 });
      if (a.status === 200) return uncertain;
      if (a.status === 429 || a.status === 503) {
        d.busy++;
        await sleep(Number(a.headers['retry-after'] ?? 1) * 1000);
        continue;
      }
      throw new StatusError(`POST ${path} answered ${a.status}: ${a.body.toString('utf8').slice(0, 300)}`);
    } catch (e) {
      if (e instanceof StatusError) throw e;
      // refused, reset or cut mid-answer: the batch may or may not be stored; send it again
      d.connectionErrors++;
      uncertain = true;
      await sleep(20);
    } finally {
      board.inFlight--;
    }
  }
}

const newDelivery = (): Delivery => ({ acked: new Set(), uncertain: new Set(), attempts: 0, connectionErrors: 0, busy: 0 });

export async function runDurability(o: DurabilityOptions, onRestart: (r: Restart) => void): Promise<DurabilityResult> {
  const first = await startServer(o.data, o.logFile);
  const board = new Board(first);
  const t0 = performance.now();
  const capacity = o.layout.lanes * o.layout.minutes;
  const metrics = newDelivery();
  const spans = newDelivery();
  let next = 0;
  let nextSpans = 0;
  const sending = () => performance.now() - t0 < o.durationMs;

  const metricSender = async () => {
    while (sending() && next < capacity) {
      const b = next++;
      if (await deliver(board, '/v1/metrics', counterBatch(o.layout, b), metrics)) metrics.uncertain.add(b);
      metrics.acked.add(b);
    }
  };
  const spanSender = async () => {
    while (sending()) {
      const b = nextSpans++;
      if (await deliver(board, '/v1/traces', spanBatch(b, o.traces, o.spansPerTrace, Date.now()), spans)) spans.uncertain.add(b);
      spans.acked.add(b);
    }
  };
  const restarts: Restart[] = [];
  const killer = async () => {
    for (const at of o.killsAtMs) {
      const wait = at - (performance.now() - t0);
      if (wait > 0) await sleep(wait);
      const r = await board.replace(() => startServer(o.data, o.logFile));
      const restart = { atMs: at, inFlight: r.inFlight, downMs: r.downMs, healthyMs: r.server.healthyMs };
      restarts.push(restart);
      onRestart(restart);
    }
  };
  await Promise.all([killer(), spanSender(), ...Array.from({ length: o.metricSenders }, metricSender)]);
  await stopServer(await board.ready, 'SIGTERM');

  const db = new Database(o.data, { fileMustExist: true });
  try {
    // every cell (series, minute) belongs to exactly one batch: its sum says how often the batch was stored
    const cells = new Map<string, number>();
    let storedTotal = 0;
    const rows = db.prepare('SELECT s.attributes AS a, p.t AS t, p.sum AS v FROM points_minute p JOIN series s ON s.id = p.series_id WHERE s.metric = ? AND s.service = ?').all(COUNTER_METRIC, COUNTER_SERVICE) as { a: string; t: number; v: number }[];
    for (const r of rows) {
      cells.set(`${(JSON.parse(r.a) as Record<string, string>)['series.id']}|${r.t}`, r.v);
      storedTotal += r.v;
    }
    let storedIncrements = 0;
    let lost = 0;
    let duplicates = 0;
    for (const b of metrics.acked) {
      const { lane, minute } = counterCell(o.layout, b);
      for (let i = 0; i < o.layout.seriesPerBatch; i++) {
        const v = cells.get(`${seriesName(lane, i)}|${minute}`) ?? 0;
        storedIncrements += v;
        if (v < 1) lost += 1 - v;
        else duplicates += v - 1;
      }
    }
    const stored = new Set((db.prepare('SELECT trace_id || span_id AS k FROM spans WHERE trace_id LIKE ?').pluck().all(`${TRACE_PREFIX}%`) as string[]));
    let storedSpans = 0;
    for (const b of spans.acked) {
      for (let t = 0; t < o.traces; t++) {
        for (let s = 0; s < o.spansPerTrace; s++) if (stored.has(`${traceId(b, t)}${spanId(b, t, s)}`)) storedSpans++;
      }
    }
    const ackedSpans = spans.acked.size * o.traces * o.spansPerTrace;
    return {
      restarts,
      batches: next,
      metrics: { ...metrics, ackedIncrements: metrics.acked.size * o.layout.seriesPerBatch, storedIncrements, lost, duplicates, unexpected: storedTotal - storedIncrements },
      spans: { ...spans, ackedSpans, storedSpans, lost: ackedSpans - storedSpans, unexpected: stored.size - storedSpans },
    };
  } finally {
    db.close();
  }
}
