// The optimization middleware (PRD optimization.middleware.ts): mounted first in the app, it applies
// the optimizer's runtime settings (src/model/settings.ts) as it reads them from the performance server —
// response caching per route (in-memory LRU or Redis, TTL with jitter, emptied by writes to the
// same resource), brotli/gzip compression above a size threshold, Cache-Control on static paths,
// pool sizes, resized AVIF/WebP variants of images (images.ts, sharp) and start-tag edits of pages
// (html.ts: lazy images, the LCP image first, deferred scripts). With no settings it only calls next().
// The original of a rewritten image stays reachable with ?solemate-original. Responses are buffered only where a setting
// needs the whole body; a handler that streams (res.write) passes through untouched. Requests with
// a Cookie or an Authorization header are never answered from the cache (they may get a personal
// answer).
import os from 'node:os';
import { join } from 'node:path';
import zlib from 'node:zlib';
import { promisify } from 'node:util';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { TTL_JITTER, writeSpec, type ImageVariantsParams, type OptimizationSettings, type PageRewriteParams, type RouteCacheParams, type SettingEntry } from '../model/settings.js';
import { rewriteHtml } from './html.js';
import { ImageVariants, preferredFormat } from './images.js';

const brotli = promisify(zlib.brotliCompress);
const gzip = promisify(zlib.gzip);
/**
 * Up to this size a body is compressed on the event loop: handing it to libuv's thread pool costs
 * more than the work (brotli quality 4 here: 3 KB in ~0.1 ms synchronously, ~0.2 ms through the
 * pool; 30 KB ~0.17 vs ~0.37 ms; bench/compression.ts), and under CPU contention the wait for a pool
 * thread grows. Larger bodies go to the pool so one big response does not stall the others.
 */
const SYNC_COMPRESS_MAX = 64 * 1024;
/**
 * AVIF at effort 2, not sharp's 4: a 2400 → 600 px photo encodes in ~0.35 s instead of 3–4 s here,
 * 56.5 KB instead of 58.6 KB — the first visitor of each image waits for it.
 */
const AVIF_EFFORT = 2;

async function compress(body: Buffer, encoding: 'br' | 'gzip'): Promise<Buffer> {
  const opts = { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: body.length } };
  if (body.length <= SYNC_COMPRESS_MAX) return encoding === 'br' ? zlib.brotliCompressSync(body, opts) : zlib.gzipSync(body);
  return encoding === 'br' ? brotli(body, opts) : gzip(body);
}

/** the ioredis methods response caching uses */
export interface RedisLike {
  hget(key: string, field: string): Promise<string | null>;
  hset(key: string, field: string, value: string): Promise<unknown>;
  pexpire(key: string, ms: number): Promise<unknown>;
  del(key: string): Promise<unknown>;
}

export interface OptimizationMiddlewareOptions {
  /** where the settings come from: the performance server (polled) or a function */
  source: { endpoint: string; token?: string; intervalMs?: number } | { get(): Promise<OptimizationSettings>; intervalMs?: number };
  /** for route caches with backend "redis" */
  redis?: RedisLike;
  /** pools whose size pool-size settings may change (pg.Pool reads options.max on every connect) */
  pools?: Record<string, { options: { max?: number } }>;
  /** largest response body buffered for caching or compression (default 1 MiB) */
  maxBodyBytes?: number;
  /** image variants: where they are kept (default <tmp>/solemate-performance/images), their total size (default 256 MiB), the largest original read (default 16 MiB) */
  images?: { dir?: string; maxBytes?: number; maxOriginalBytes?: number };
}

interface CachedResponse {
  until: number;
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

interface RouteCache {
  entry: string;
  params: RouteCacheParams;
  match: RegExp;
  invalidators: { method: string; match: RegExp }[];
  memory: Map<string, CachedResponse>;
}

interface Compiled {
  version: number;
  caches: RouteCache[];
  compression: { threshold: number; brotli: boolean } | undefined;
  staticPaths: { prefix: string; value: string }[];
  images: { params: ImageVariantsParams; match: RegExp }[];
  pages: { params: PageRewriteParams; match: RegExp }[];
  active: boolean;
}

const COMPRESSIBLE = /^(text\/|application\/(json|javascript|xml|[\w.+-]*\+(json|xml))|image\/svg\+xml)/i;

/** /api/products/:id → ^/api/products/[^/]+/?$ (a template's ":name" segments match one segment) */
export function templateMatcher(template: string, prefix = false): RegExp {
  const body = template
    .replace(/\/+$/, '')
    .split('/')
    .map((seg) => (seg.startsWith(':') ? '[^/]+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${body}${prefix ? '(?:/|$)' : '/?$'}`);
}

/** The part of a template before its first parameter: the resource its writes go to. */
const resourceOf = (template: string) => template.split('/:')[0].replace(/\/+$/, '') || '/';

function compile(s: OptimizationSettings, previous: Compiled | undefined): Compiled {
  const on = (s.entries as SettingEntry[]).filter((e) => e.enabled);
  const caches: RouteCache[] = [];
  for (const e of on) {
    if (e.type !== 'route-cache') continue;
    // keep what is cached when the settings change but this entry does not
    const kept = previous?.caches.find((c) => c.entry === e.id && JSON.stringify(c.params) === JSON.stringify(e.params));
    caches.push({
      entry: e.id,
      params: e.params,
      match: templateMatcher(e.params.route),
      invalidators: [{ method: '*', match: templateMatcher(resourceOf(e.params.route), true) }, ...e.params.invalidatedBy.map(writeSpec).map((w) => ({ method: w.method, match: templateMatcher(w.route) }))],
      memory: kept?.memory ?? new Map(),
    });
  }
  const comp = on.find((e) => e.type === 'compression');
  const staticPaths = on.flatMap((e) => (e.type === 'cache-headers' ? e.params.paths.map((prefix) => ({ prefix, value: `public, max-age=${e.params.maxAgeSeconds}${e.params.immutable ? ', immutable' : ''}` })) : []));
  const images = on.flatMap((e) => (e.type === 'image-variants' ? [{ params: e.params, match: templateMatcher(e.params.route) }] : []));
  const pages = on.flatMap((e) => (e.type === 'page-rewrite' ? [{ params: e.params, match: templateMatcher(e.params.route) }] : []));
  return { version: s.version, caches, compression: comp?.type === 'compression' ? comp.params : undefined, staticPaths, images, pages, active: s.version > 0 };
}

export interface OptimizationMiddleware {
  (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void): void;
  /** the settings in force */
  readonly settings: OptimizationSettings;
  /** fetches the settings now (also done every intervalMs) */
  refresh(): Promise<void>;
  /** counters: cache hits/misses, compressed responses, failed polls, image variants sent, pages rewritten, failed transforms */
  readonly stats: { hits: number; misses: number; compressed: number; invalidations: number; pollErrors: number; imageVariants: number; pagesRewritten: number; transformErrors: number };
  close(): void;
}

export function optimizationMiddleware(o: OptimizationMiddlewareOptions): OptimizationMiddleware {
  const maxBody = o.maxBodyBytes ?? 1024 * 1024;
  let settings: OptimizationSettings = { version: 0, entries: [] };
  let compiled = compile(settings, undefined);
  const stats = { hits: 0, misses: 0, compressed: 0, invalidations: 0, pollErrors: 0, imageVariants: 0, pagesRewritten: 0, transformErrors: 0 };
  const maxOriginal = o.images?.maxOriginalBytes ?? 16 * 1024 * 1024;
  let variants: ImageVariants | undefined;
  const imageVariants = () => (variants ??= new ImageVariants({ dir: o.images?.dir ?? join(os.tmpdir(), 'solemate-performance', 'images'), maxBytes: o.images?.maxBytes ?? 256 * 1024 * 1024, avifEffort: AVIF_EFFORT }));
  const originalMax = new Map<string, number | undefined>();

  const applyPools = () => {
    const sizes = new Map<string, number>();
    for (const e of settings.entries) if (e.enabled && e.type === 'pool-size') sizes.set(e.params.pool, e.params.max);
    for (const [name, pool] of Object.entries(o.pools ?? {})) {
      if (!originalMax.has(name)) originalMax.set(name, pool.options.max);
      pool.options.max = sizes.get(name) ?? originalMax.get(name);
    }
  };
  const fetchSettings = async (): Promise<OptimizationSettings> => {
    if ('get' in o.source) return o.source.get();
    const res = await fetch(new URL('/api/optimizations/settings', o.source.endpoint), { headers: o.source.token ? { authorization: `Bearer ${o.source.token}` } : {}, signal: AbortSignal.timeout(5000) });
    if (!res.ok) throw new Error(`settings: HTTP ${res.status}`);
    return (await res.json()) as OptimizationSettings;
  };
  const refresh = async () => {
    try {
      const s = await fetchSettings();
      if (s.version === settings.version) return;
      settings = s;
      compiled = compile(s, compiled);
      applyPools();
    } catch {
      stats.pollErrors++;
    }
  };
  const timer = setInterval(() => void refresh(), o.source.intervalMs ?? 2000);
  timer.unref();
  void refresh();

  const key = (rc: RouteCache) => `solemate:rc:${rc.entry}`;
  const lookup = async (rc: RouteCache, k: string): Promise<CachedResponse | undefined> => {
    if (rc.params.backend === 'redis' && o.redis) {
      const raw = await o.redis.hget(key(rc), k).catch(() => null);
      if (!raw) return undefined;
      const v = JSON.parse(raw) as Omit<CachedResponse, 'body'> & { body: string };
      return v.until > Date.now() ? { ...v, body: Buffer.from(v.body, 'base64') } : undefined;
    }
    const v = rc.memory.get(k);
    if (!v) return undefined;
    if (v.until <= Date.now()) {
      rc.memory.delete(k);
      return undefined;
    }
    rc.memory.delete(k); // most recently used last
    rc.memory.set(k, v);
    return v;
  };
  const save = (rc: RouteCache, k: string, v: CachedResponse) => {
    if (rc.params.backend === 'redis' && o.redis) {
      const r = o.redis;
      void r
        .hset(key(rc), k, JSON.stringify({ ...v, body: v.body.toString('base64') }))
        .then(() => r.pexpire(key(rc), rc.params.ttlMs))
        .catch(() => {});
      return;
    }
    rc.memory.set(k, v);
    if (rc.memory.size > rc.params.maxEntries) rc.memory.delete(rc.memory.keys().next().value as string);
  };
  const invalidate = (rc: RouteCache) => {
    stats.invalidations++;
    rc.memory.clear();
    if (rc.params.backend === 'redis' && o.redis) void o.redis.del(key(rc)).catch(() => {});
  };

  /**
   * A write empties the caches it affects when its answer says it succeeded (status < 400), just
   * before that answer is sent, so the writer's next read is fresh; a refused write (a 409 for stock,
   * a 400 for an empty cart) changed nothing and leaves them. An answer never sent (the connection
   * closed first) empties them too: the write may have happened.
   */
  const emptyOnSuccess = (res: ServerResponse, caches: RouteCache[]) => {
    let done = false;
    const empty = (status: number) => {
      if (done) return;
      done = true;
      if (status < 400) for (const rc of caches) invalidate(rc);
    };
    const writeHead = res.writeHead;
    res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
      res.writeHead = writeHead;
      empty(typeof args[0] === 'number' ? args[0] : res.statusCode);
      return (writeHead as (...a: unknown[]) => ServerResponse).apply(this, args);
    } as typeof res.writeHead;
    res.once('close', () => empty(res.headersSent ? res.statusCode : 0));
  };

  /**
   * The body as the settings want it (an image's variant, a page's edited HTML) with its type, or
   * undefined to send it as it is; 'not-modified' after answering 304 to a variant the browser holds.
   * A failure sends the original and is counted.
   */
  const transform = async (body: Buffer, type: string, image: ImageVariantsParams | undefined, page: PageRewriteParams | undefined, req: IncomingMessage, res: ServerResponse): Promise<[Buffer, string] | 'not-modified' | undefined> => {
    try {
      if (image && /^image\/(png|jpeg|webp|avif)\b/i.test(type)) {
        const v = await imageVariants().get(body, { width: image.width, format: preferredFormat(req.headers.accept, image.formats) });
        if (!v) return undefined;
        stats.imageVariants++;
        res.setHeader('ETag', v.etag);
        res.setHeader('x-solemate-image', `${v.width}w ${v.contentType.slice(6)}`);
        res.setHeader('Content-Type', v.contentType);
        if (req.headers['if-none-match'] === v.etag) {
          res.statusCode = 304;
          res.removeHeader('Content-Length');
          return 'not-modified';
        }
        return [v.body, v.contentType];
      }
      if (page && /^text\/html\b/i.test(type)) {
        const r = rewriteHtml(body.toString('utf8'), page);
        const n = r.changes.lazy + r.changes.priority + r.changes.deferred + r.changes.sized;
        if (n === 0) return undefined;
        stats.pagesRewritten++;
        // the app's validator named the page before the edit
        res.removeHeader('ETag');
        return [Buffer.from(r.html, 'utf8'), type];
      }
    } catch {
      stats.transformErrors++;
    }
    return undefined;
  };

  const middleware = ((req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => {
    const c = compiled;
    if (!c.active) return next();
    res.setHeader('x-solemate-settings', String(c.version));
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const path = url.split('?')[0];
    if (method !== 'GET' && method !== 'HEAD') {
      const emptied = c.caches.filter((rc) => rc.invalidators.some((i) => (i.method === '*' || i.method === method) && i.match.test(path)));
      if (emptied.length) emptyOnSuccess(res, emptied);
      return next();
    }
    for (const s of c.staticPaths) if (path.startsWith(s.prefix)) res.setHeader('Cache-Control', s.value);
    const image = method === 'GET' && !/[?&]solemate-original(?:[=&]|$)/.test(url) ? c.images.find((x) => x.match.test(path)) : undefined;
    // page rewrites of one route make different edits (lazy images, deferred scripts): all of them apply
    const rewrites = method === 'GET' ? c.pages.filter((x) => x.match.test(path)) : [];
    const page = rewrites.length ? (Object.assign({}, ...rewrites.map((x) => x.params)) as PageRewriteParams) : undefined;
    // the variant depends on Accept: caches between here and the browser must key on it
    if (image?.params.formats.length) res.setHeader('Vary', 'Accept');
    // like Varnish's built-in policy: a request with credentials may get a personal answer, so it passes
    const personal = req.headers.authorization !== undefined || req.headers.cookie !== undefined;
    const rc = method === 'GET' && !personal ? c.caches.find((x) => x.match.test(path)) : undefined;
    const accepts = String(req.headers['accept-encoding'] ?? '');
    const encoding = c.compression && method === 'GET' ? (c.compression.brotli && /\bbr\b/.test(accepts) ? 'br' : /\bgzip\b/.test(accepts) ? 'gzip' : undefined) : undefined;
    if (!rc && !encoding && !image && !page) return next();
    // what the client accepts and whether we compress (settings change) both decide the stored bytes
    const k = `${url}\u0000${encoding ?? ''}\u0000${accepts}${image ? `\u0000${req.headers.accept ?? ''}` : ''}`;
    const serve = (hit: CachedResponse) => {
      stats.hits++;
      res.statusCode = hit.status;
      for (const [h, v] of Object.entries(hit.headers)) res.setHeader(h, v);
      res.setHeader('x-solemate-cache', 'hit');
      res.end(hit.body);
    };
    const intercept = () => {
      const write = res.write.bind(res) as (...a: unknown[]) => boolean;
      const end = res.end.bind(res) as (...a: unknown[]) => ServerResponse;
      let streaming = false;
      res.write = ((...a: unknown[]) => {
        streaming = true;
        res.write = write as typeof res.write;
        res.end = end as typeof res.end;
        return write(...a);
      }) as typeof res.write;
      res.end = ((...a: unknown[]) => {
        res.write = write as typeof res.write;
        res.end = end as typeof res.end;
        const cb = typeof a[a.length - 1] === 'function' ? (a.pop() as () => void) : undefined;
        const [chunk, enc] = a as [unknown, BufferEncoding | undefined];
        let body = chunk === undefined || chunk === null ? Buffer.alloc(0) : Buffer.isBuffer(chunk) ? chunk : typeof chunk === 'string' ? Buffer.from(chunk, enc ?? 'utf8') : Buffer.from(chunk as Uint8Array);
        if (streaming || res.headersSent || res.statusCode !== 200 || body.length > (image ? Math.max(maxBody, maxOriginal) : maxBody)) return end(body, cb);
        void (async () => {
          let type = String(res.getHeader('content-type') ?? '');
          const edited = await transform(body, type, image?.params, page, req, res);
          if (edited === 'not-modified') return end(cb);
          if (edited) [body, type] = edited;
          if (encoding && c.compression && body.length >= c.compression.threshold && COMPRESSIBLE.test(type) && !res.getHeader('content-encoding')) {
            try {
              body = await compress(body, encoding);
              res.setHeader('Content-Encoding', encoding);
              const vary = String(res.getHeader('vary') ?? '');
              if (!/accept-encoding/i.test(vary)) res.setHeader('Vary', vary ? `${vary}, Accept-Encoding` : 'Accept-Encoding');
              stats.compressed++;
            } catch {
              // send it as it is
            }
          }
          if (res.getHeader('content-length') !== undefined) res.setHeader('Content-Length', body.length);
          if (rc && !res.getHeader('set-cookie')) {
            const headers: Record<string, string> = {};
            for (const [h, v] of Object.entries(res.getHeaders())) if (v !== undefined && h !== 'x-solemate-settings' && h !== 'x-solemate-cache') headers[h] = Array.isArray(v) ? v.join(', ') : String(v);
            save(rc, k, { until: Date.now() + rc.params.ttlMs * (1 - TTL_JITTER * Math.random()), status: 200, headers, body });
          }
          end(body, cb);
        })();
        return res;
      }) as typeof res.end;
    };
    if (!rc) {
      intercept();
      return next();
    }
    void lookup(rc, k).then(
      (hit) => {
        if (hit) return serve(hit);
        stats.misses++;
        res.setHeader('x-solemate-cache', 'miss');
        intercept();
        next();
      },
      () => {
        intercept();
        next();
      },
    );
  }) as OptimizationMiddleware;
  Object.defineProperties(middleware, {
    settings: { get: () => settings },
    stats: { value: stats },
  });
  middleware.refresh = refresh;
  middleware.close = () => clearInterval(timer);
  return middleware;
}
