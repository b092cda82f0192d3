// Live updates: GET /api/stream is a Server-Sent Events stream of what changed — new metrics or
// spans stored, alert transitions, optimization steps. Clients re-read what they show; the stream
// carries what changed, not the data. Ingest bursts are coalesced to one event per 500 ms, so a page
// sees new data well within 2 s of its ingest without being flooded.
import type { FastifyInstance } from 'fastify';

export type LiveEvent = { type: 'ingest'; metrics: number; spans: number } | { type: 'alert'; kind: string; alert: string } | { type: 'optimization'; id: string; state: string } | { type: 'rules' } | { type: 'silences' };

const COALESCE_MS = 500;
const HEARTBEAT_MS = 15_000;

export class EventHub {
  private readonly listeners = new Set<(e: LiveEvent & { at: string }) => void>();
  private readonly streams = new Set<() => void>();
  private pending: { metrics: number; spans: number } | undefined;
  private timer: NodeJS.Timeout | undefined;

  get clients(): number {
    return this.listeners.size;
  }

  subscribe(fn: (e: LiveEvent & { at: string }) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  publish(e: LiveEvent): void {
    const at = new Date().toISOString();
    for (const fn of this.listeners) fn({ ...e, at });
  }

  /** stored points/spans: published at most every COALESCE_MS */
  ingested(metrics: number, spans: number): void {
    if (this.listeners.size === 0) return;
    const p = (this.pending ??= { metrics: 0, spans: 0 });
    p.metrics += metrics;
    p.spans += spans;
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      const x = this.pending!;
      this.pending = undefined;
      this.publish({ type: 'ingest', ...x });
    }, COALESCE_MS);
  }

  /** an open stream's ending, called by disconnectAll */
  attach(end: () => void): () => void {
    this.streams.add(end);
    return () => this.streams.delete(end);
  }

  /** Ends every open stream (clients reconnect); used on shutdown. */
  disconnectAll(): void {
    for (const end of [...this.streams]) end();
  }

  close(): void {
    clearTimeout(this.timer);
    this.disconnectAll();
    this.listeners.clear();
  }
}

export async function eventRoutes(app: FastifyInstance, opts: { hub: EventHub }): Promise<void> {
  app.get('/api/stream', (req, reply) => {
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    // the client reconnects after 2 s when the connection drops
    res.write(`retry: 2000\n: connected\n\n`);
    let id = 0;
    const off = opts.hub.subscribe((e) => res.write(`id: ${++id}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`));
    const beat = setInterval(() => res.write(': heartbeat\n\n'), HEARTBEAT_MS);
    const detach = opts.hub.attach(() => res.end());
    const end = () => {
      clearInterval(beat);
      off();
      detach();
    };
    req.raw.on('close', end);
    res.on('close', end);
    res.on('error', end);
  });
}
