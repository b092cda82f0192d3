// POST /v1/rum: the beacons of solemate-performance/browser, and GET /rum.js, the script-tag form of
// it. Browsers cannot hold a token, so this endpoint is open, and its limits are what protects the
// server: only allowed origins (the server's own, loopback, rum.origins), a body cap, a per-address
// rate, and a whole-beacon check — every refusal a 4xx with its reason, counted on /metrics, and
// nothing of a refused beacon stored. Accepted beacons are merged in memory (ingest/rum.ts) and
// stored every rum.flushSeconds; up to that much is lost if the process dies (a beacon is never
// retried by the browser anyway).
import fs from 'node:fs';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { PerformanceConfig } from '../config/schema.js';
import { PerfError } from '../errors.js';
import { BeaconError, readBeacon, RumAggregator } from '../ingest/rum.js';
import type { MetricPoint } from '../model/metrics.js';
import type { Store } from '../store/store.js';

export type BeaconResult = 'accepted' | 'bad_json' | 'bad_beacon' | 'too_large' | 'forbidden_origin' | 'rate_limited' | 'unsupported_media_type';

/** The script-tag bundle (browser/src/auto.ts, web-vitals included), built by scripts/build-browser.mjs. */
const SCRIPT = new URL('../../browser/dist/rum.iife.js', import.meta.url);

/** Beacons by result, the aggregator, and a flush for tests and shutdown. */
export class RumIngest {
  readonly beacons: Record<BeaconResult, number> = { accepted: 0, bad_json: 0, bad_beacon: 0, too_large: 0, forbidden_origin: 0, rate_limited: 0, unsupported_media_type: 0 };
  readonly aggregator: RumAggregator;
  private readonly clients = new Map<string, { minute: number; n: number }>();

  constructor(
    private readonly config: PerformanceConfig['rum'],
    private readonly store: Store,
    private readonly clock: () => number,
    private readonly onStored: (points: MetricPoint[]) => void,
  ) {
    this.aggregator = new RumAggregator({ metricsPerBeacon: config.metricsPerBeacon, pages: config.pagesPerService, services: config.services, targets: config.targets, valueLength: 200 }, config.pages, clock());
  }

  /** Stores what was merged since the last flush. */
  async flush(): Promise<number> {
    if (this.aggregator.pending === 0) return 0;
    const points = this.aggregator.flush(this.clock());
    await this.store.write(points);
    this.onStored(points);
    return points.length;
  }

  /** Whether this address may send one more beacon this minute; remembers at most rum.clients addresses. */
  admit(address: string): { ok: boolean; retryAfter: number } {
    const now = this.clock();
    const minute = Math.floor(now / 60_000);
    let c = this.clients.get(address);
    if (!c || c.minute !== minute) {
      this.clients.delete(address);
      if (this.clients.size >= this.config.clients) this.clients.delete(this.clients.keys().next().value as string);
      this.clients.set(address, (c = { minute, n: 0 }));
    }
    if (c.n >= this.config.beaconsPerClientPerMinute) return { ok: false, retryAfter: Math.ceil(((minute + 1) * 60_000 - now) / 1000) };
    c.n++;
    return { ok: true, retryAfter: 0 };
  }

  /** Answers of allowed() for the origins seen lately (most sites have one or a few). */
  private readonly origins = new Map<string, boolean>();

  /** Whether a page of `origin` may send beacons to a server reached as `host`. */
  allowed(origin: string | undefined, host: string | undefined): boolean {
    if (!origin) return false;
    const key = `${origin} ${host}`;
    let ok = this.origins.get(key);
    if (ok === undefined) {
      if (this.origins.size >= 1000) this.origins.clear();
      this.origins.set(key, (ok = this.decide(origin, host)));
    }
    return ok;
  }

  private decide(origin: string, host: string | undefined): boolean {
    if (origin === 'null') return false;
    let o: URL;
    try {
      o = new URL(origin);
    } catch {
      return false;
    }
    if (host && o.host === host) return true;
    if (o.hostname === 'localhost' || o.hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(o.hostname)) return true;
    return this.config.origins.some((pattern) => {
      const wild = pattern.match(/^(https?:\/\/)\*\.(.+)$/);
      if (!wild) return pattern === origin;
      return o.protocol === wild[1].slice(0, -2) && o.host.endsWith(`.${wild[2]}`);
    });
  }
}

export async function rumRoutes(app: FastifyInstance, opts: { rum: RumIngest; config: PerformanceConfig['rum'] }): Promise<void> {
  const { rum, config } = opts;
  const timer = setInterval(() => void rum.flush().catch((err) => app.log.error({ err }, 'storing beacons failed')), config.flushSeconds * 1000);
  timer.unref();
  app.addHook('onClose', async () => {
    clearInterval(timer);
    await rum.flush();
  });

  // sendBeacon sends a string as text/plain (no CORS preflight); fetch senders may use JSON
  const text = (_req: FastifyRequest, body: string, done: (err: Error | null, body?: string) => void) => done(null, body);
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(['text/plain', 'application/json'], { parseAs: 'string', bodyLimit: config.bodyBytes }, text);
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: config.bodyBytes }, (req, _body, done) => {
    rum.beacons.unsupported_media_type++;
    done(new PerfError('PERF_ERR_UNSUPPORTED_MEDIA_TYPE', `a beacon is text/plain or application/json, not ${req.headers['content-type']}`));
  });
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, _req, reply) => {
    if (err.statusCode === 413 || err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      rum.beacons.too_large++;
      return reply.status(413).send({ statusCode: 413, code: 'PERF_ERR_PAYLOAD_TOO_LARGE', message: `a beacon is at most ${config.bodyBytes} bytes (rum.bodyBytes)` });
    }
    throw err;
  });

  const cors = (req: FastifyRequest, reply: FastifyReply): boolean => {
    const origin = req.headers.origin;
    if (!rum.allowed(origin, req.headers.host)) return false;
    void reply.header('access-control-allow-origin', origin).header('vary', 'Origin');
    return true;
  };

  app.options('/v1/rum', async (req, reply) => {
    if (!cors(req, reply)) return reply.status(403).send();
    return reply.header('access-control-allow-methods', 'POST').header('access-control-allow-headers', 'content-type').header('access-control-max-age', '86400').status(204).send();
  });

  app.post('/v1/rum', async (req, reply) => {
    if (!config.enabled) throw new PerfError('PERF_ERR_NOT_FOUND', 'real-user monitoring is off (rum.enabled: false)');
    if (!cors(req, reply)) {
      rum.beacons.forbidden_origin++;
      throw new PerfError('PERF_ERR_FORBIDDEN', `beacons from ${req.headers.origin ?? 'a request without an Origin header'} are not accepted: add the origin to rum.origins`);
    }
    // the peer's address (req.ip would read X-Forwarded-For only with trustProxy, which is off)
    const turn = rum.admit(req.socket.remoteAddress ?? '');
    if (!turn.ok) {
      rum.beacons.rate_limited++;
      throw new PerfError('PERF_ERR_BUSY', `more than ${config.beaconsPerClientPerMinute} beacons a minute from this address (rum.beaconsPerClientPerMinute)`, { retryAfter: turn.retryAfter });
    }
    let beacon;
    try {
      beacon = readBeacon(String(req.body ?? ''), rum.aggregator.limits);
    } catch (e) {
      if (!(e instanceof BeaconError)) throw e;
      rum.beacons[e.reason]++;
      throw new PerfError('PERF_ERR_BAD_REQUEST', e.message);
    }
    rum.aggregator.add(beacon);
    rum.beacons.accepted++;
    return reply.status(204).send();
  });

  app.get('/rum.js', async (_req, reply) => {
    if (!fs.existsSync(SCRIPT)) throw new PerfError('PERF_ERR_NOT_FOUND', 'browser/dist/rum.iife.js is not built: run `npm run build`');
    return reply.type('text/javascript; charset=utf-8').header('cache-control', 'public, max-age=3600').send(fs.readFileSync(SCRIPT));
  });
}
