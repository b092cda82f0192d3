// ioredis instrumentation and a small read-through cache helper.
//   instrumentIoredis(Redis, perf)   command timings: db.client.operation.duration with
//                                    db.system.name=redis, db.operation.name=GET…, error.type
//   new Cache(redis, perf)           get-or-load with hits and misses per key prefix
//                                    (solemate.cache.requests, cache.result = hit | miss)
// Command results are untouched: the command's own resolve/reject are wrapped, so no handler is
// added to the promise the app receives (a rejection it never handles stays unhandled).
import { performance } from 'node:perf_hooks';
import type { Handle } from '../sdk/series.js';
import { recorderOf, tracerOf, type Source } from './source.js';
import { currentContext, endSpan, errorType, type Tracer } from '../sdk/tracing.js';
import { CACHE_REQUESTS, DB_OPERATION_DURATION } from '../semconv.js';


/** The ioredis class (default export of "ioredis"); only sendCommand is patched. */
export interface IoredisClass {
  prototype: { sendCommand(command: unknown, ...rest: unknown[]): unknown };
}

interface CommandLike {
  name?: string;
  resolve?: (v: unknown) => void;
  reject?: (e: unknown) => void;
}

const PATCHED = Symbol.for('solemate.ioredis.patched');

/** Patches ioredis (Redis and Cluster share Redis.prototype.sendCommand); returns the undo. */
export function instrumentIoredis(Redis: IoredisClass, source: Source, options: { tracer?: Tracer } = {}): () => void {
  const proto = Redis.prototype as unknown as Record<string | symbol, unknown> & { sendCommand: (this: unknown, command: unknown, ...rest: unknown[]) => unknown };
  if (proto[PATCHED]) return () => {};
  const recorder = recorderOf(source);
  const tracer = tracerOf(source, options.tracer);
  const duration = recorder.histogram(DB_OPERATION_DURATION, { unit: 's', description: 'Duration of database client operations' });
  const handles = new Map<string, Handle>();
  const original = proto.sendCommand;
  const sendCommand = function (this: unknown, command: unknown, ...rest: unknown[]): unknown {
    const cmd = command as CommandLike;
    if (!cmd || typeof cmd.resolve !== 'function' || typeof cmd.reject !== 'function' || (cmd as { [PATCHED]?: boolean })[PATCHED]) return original.call(this, command, ...rest);
    try {
      (cmd as { [PATCHED]?: boolean })[PATCHED] = true; // a command re-sent after a reconnect is timed once, from its first send
      const op = String(cmd.name ?? 'unknown').toUpperCase();
      const ctx = currentContext();
      const span = tracer && ctx ? tracer.startSpan(op, 'client', { 'db.system.name': 'redis', 'db.operation.name': op }) : undefined;
      const start = performance.now();
      const done = (err: unknown) => {
        try {
          const ms = performance.now() - start;
          if (err === undefined) {
            let h = handles.get(op);
            if (!h) {
              h = duration.bind({ 'db.system.name': 'redis', 'db.operation.name': op });
              if (handles.size < 500) handles.set(op, h);
            }
            h.record(ms / 1000);
          } else duration.record(ms / 1000, { 'db.system.name': 'redis', 'db.operation.name': op, 'error.type': errorType(err) });
          if (ctx) {
            ctx.cacheCalls++;
            ctx.cacheMs += ms;
          }
          endSpan(span, err);
        } catch {
          // monitoring never breaks a command
        }
      };
      const resolve = cmd.resolve;
      const reject = cmd.reject;
      cmd.resolve = (v) => {
        done(undefined);
        resolve(v);
      };
      cmd.reject = (e) => {
        done(e ?? new Error('command failed'));
        reject(e);
      };
    } catch {
      // fall through untouched
    }
    return original.call(this, command, ...rest);
  };
  proto.sendCommand = sendCommand;
  proto[PATCHED] = true;
  return () => {
    if (proto.sendCommand === sendCommand) proto.sendCommand = original;
    delete proto[PATCHED];
  };
}

/** What the cache helper needs from a Redis client. */
export interface RedisLike {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, mode: 'PX', ms: number): Promise<unknown>;
}

export interface CacheOptions {
  /** default time to live, ms (default 60 000) */
  ttlMs?: number;
  /** key prefix separator; the prefix of "catalog:facets:shoes" is "catalog" (default ":") */
  separator?: string;
}

/**
 * Read-through cache in Redis with hit/miss accounting per key prefix. Values are JSON. A Redis
 * failure is a miss (the loader runs), never an error for the caller.
 */
export class Cache {
  private readonly requests;
  private readonly handles = new Map<string, { hit: Handle; miss: Handle; error: Handle }>();
  private readonly ttl: number;
  private readonly sep: string;

  constructor(
    private readonly redis: RedisLike,
    source: Source,
    options: CacheOptions = {},
  ) {
    this.requests = recorderOf(source).counter(CACHE_REQUESTS, { unit: '{request}', description: 'Cache lookups by key prefix and result' });
    this.ttl = options.ttlMs ?? 60_000;
    this.sep = options.separator ?? ':';
  }

  private count(key: string, result: 'hit' | 'miss' | 'error'): void {
    const cut = key.indexOf(this.sep);
    const prefix = cut > 0 ? key.slice(0, cut) : key;
    let h = this.handles.get(prefix);
    if (!h) {
      h = { hit: this.requests.bind({ 'cache.prefix': prefix, 'cache.result': 'hit' }), miss: this.requests.bind({ 'cache.prefix': prefix, 'cache.result': 'miss' }), error: this.requests.bind({ 'cache.prefix': prefix, 'cache.result': 'error' }) };
      if (this.handles.size < 1000) this.handles.set(prefix, h);
    }
    h[result].record(1);
  }

  async getOrLoad<T>(key: string, load: () => Promise<T>, ttlMs = this.ttl): Promise<T> {
    let cached: string | null = null;
    try {
      cached = await this.redis.get(key);
    } catch {
      this.count(key, 'error');
      return load();
    }
    if (cached !== null) {
      this.count(key, 'hit');
      return JSON.parse(cached) as T;
    }
    this.count(key, 'miss');
    const value = await load();
    try {
      await this.redis.set(key, JSON.stringify(value), 'PX', ttlMs);
    } catch {
      // a cache that cannot store is only slower
    }
    return value;
  }
}
