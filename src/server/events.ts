// Live updates: GET /api/stream is a Server-Sent Events stream of what changed — new metrics or
// spans stored, alert transitions, optimization steps. Clients re-read what they show; the stream
// carries what changed, not the data. Ingest bursts are coalesced to one event per 500 ms, so a page
// sees new data well within 2 s of its ingest without being flooded. With a PostgreSQL store the
// events of every replica reach every replica's streams (LISTEN/NOTIFY), as the data does.
import crypto from 'node:crypto';
import type { FastifyInstance } from 'fastify';

export type LiveEvent = { type: 'ingest'; metrics: number; spans: number } | { type: 'alert'; kind: string; alert: string } | { type: 'optimization'; id: string; state: string } | { type: 'rules' } | { type: 'silences' };

const COALESCE_MS = 500;
const HEARTBEAT_MS = 15_000;

const CHANNEL = 'solemate_perf_events';

export class EventHub {
  /** this replica, so its own events coming back through PostgreSQL are not delivered twice */
  readonly origin = crypto.randomUUID();
  private relay: ((e: LiveEvent & { at: string }) => void) | undefined;
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
    const event = { ...e, at: new Date().toISOString() };
    this.deliver(event);
    this.relay?.(event);
  }

  /** to this replica's streams only (an event from another replica) */
  deliver(e: LiveEvent & { at: string }): void {
    for (const fn of this.listeners) fn(e);
  }

  setRelay(relay: ((e: LiveEvent & { at: string }) => void) | undefined): void {
    this.relay = relay;
  }

  /** stored points/spans: published at most every COALESCE_MS */
  ingested(metrics: number, spans: number): void {
    if (this.listeners.size === 0 && !this.relay) return;
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

/**
 * Shares events between replicas through PostgreSQL: each replica NOTIFYs its events and LISTENs on
 * one connection of its own; a dropped connection is re-opened every 5 s. Returns the closer.
 */
export function relayThroughPostgres(hub: EventHub, url: string, log: (m: string) => void): () => Promise<void> {
  let client: import('pg').Client | undefined;
  let stopped = false;
  let retry: NodeJS.Timeout | undefined;
  let warned = false;
  const open = async () => {
    const { default: pg } = await import('pg');
    const c = new pg.Client({ connectionString: url, application_name: 'solemate-perf events' });
    const again = (e?: Error) => {
      if (client === c) client = undefined;
      if (!warned && e) log(`live events from other replicas paused: ${e.message}; retrying every 5 s`);
      warned = true;
      c.end().catch(() => {});
      if (!stopped) retry = setTimeout(() => void open(), 5000);
    };
    c.on('error', again);
    c.on('notification', (n) => {
      try {
        const m = JSON.parse(n.payload ?? '') as { origin: string; event: LiveEvent & { at: string } };
        if (m.origin !== hub.origin) hub.deliver(m.event);
      } catch {
        // not ours
      }
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${CHANNEL}`);
      client = c;
      warned = false;
    } catch (e) {
      again(e as Error);
    }
  };
  hub.setRelay((event) => void client?.query('SELECT pg_notify($1, $2)', [CHANNEL, JSON.stringify({ origin: hub.origin, event })]).catch(() => {}));
  void open();
  return async () => {
    stopped = true;
    clearTimeout(retry);
    hub.setRelay(undefined);
    await client?.end().catch(() => {});
  };
}
