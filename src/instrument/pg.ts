// node-postgres instrumentation: instrumentPg(pg, perf) once at start-up. Patches
// Client.prototype.query (Pool.query goes through it) and Pool.prototype.connect.
//   db.client.operation.duration (s)        by fingerprint, operation, table, error.type
//   db.client.response.returned_rows        by fingerprint
//   db.client.connection.wait_time (s)      time to get a client from a pool
//   db.client.connection.count / pending_requests   pool state (idle/used, waiting)
// Inside a request (see sdk/tracing.ts) each query is also a span and counts towards the request's
// queries-per-request and database time. The query's result, errors and ordering are the app's,
// untouched: a callback is called with exactly its arguments, a promise resolves or rejects with
// exactly its value, and a rejection nobody handles stays unhandled.
import { performance } from 'node:perf_hooks';
import type { Handle } from '../sdk/series.js';
import { recorderOf, tracerOf, type Source } from './source.js';
import { bindContext, currentContext, endSpan, errorType, type Tracer } from '../sdk/tracing.js';
import { BoundedCache, fingerprint, type QueryFingerprint } from './sql.js';
import { DB_CONNECTION_COUNT, DB_CONNECTION_PENDING, DB_CONNECTION_WAIT, DB_OPERATION_DURATION, DB_RETURNED_ROWS } from '../semconv.js';

/** The parts of the `pg` module we patch (structural, so any pg 8.x works). */
export interface PgModule {
  Client: { prototype: { query: (...args: unknown[]) => unknown } };
  Pool: { prototype: { connect: (...args: unknown[]) => unknown } };
}

interface PoolLike {
  totalCount?: number;
  idleCount?: number;
  waitingCount?: number;
  options?: { host?: string; port?: number; database?: string; connectionString?: string };
  on?: (event: string, fn: (...a: unknown[]) => void) => void;
}

export interface PgInstrumentationOptions {
  tracer?: Tracer;
  /** distinct statements kept with their fingerprint and handles before the cache starts over (default 2000) */
  fingerprintCache?: number;
}

const PATCHED = Symbol.for('solemate.pg.patched');


interface QueryHandles {
  ok: Handle;
  rows: Handle;
  fp: QueryFingerprint;
  attrs: Record<string, string>;
  spanName: string;
}

/** Patches `pg`; returns a function that restores it. Calling it twice on one module is a no-op. */
export function instrumentPg(pgModule: PgModule, source: Source, options: PgInstrumentationOptions = {}): () => void {
  const clientProto = pgModule.Client.prototype as Record<string | symbol, unknown>;
  const poolProto = pgModule.Pool.prototype as Record<string | symbol, unknown>;
  if (clientProto[PATCHED]) return () => {};
  const recorder = recorderOf(source);
  const tracer = tracerOf(source, options.tracer);
  const duration = recorder.histogram(DB_OPERATION_DURATION, { unit: 's', description: 'Duration of database client operations' });
  const returned = recorder.histogram(DB_RETURNED_ROWS, { unit: '{row}', description: 'Rows returned by database queries' });
  const waitTime = recorder.histogram(DB_CONNECTION_WAIT, { unit: 's', description: 'Time to obtain a connection from the pool' });
  const connCount = recorder.gauge(DB_CONNECTION_COUNT, { unit: '{connection}', description: 'Connections in the pool by state' });
  const pending = recorder.gauge(DB_CONNECTION_PENDING, { unit: '{request}', description: 'Requests waiting for a pool connection' });
  // per statement text: its fingerprint and bound handles, made once
  const perQuery = new BoundedCache<QueryHandles>(options.fingerprintCache ?? 2000, (sql) => {
    const fp = fingerprint(sql);
    const attrs = dbAttrs(fp);
    return { ok: duration.bind(attrs), rows: returned.bind(attrs), fp, attrs, spanName: fp.collection ? `${fp.operation} ${fp.collection}` : fp.operation };
  });

  const originalQuery = pgModule.Client.prototype.query;
  const query = function (this: unknown, ...args: unknown[]): unknown {
    const first = args[0];
    const sql = typeof first === 'string' ? first : first && typeof first === 'object' && typeof (first as { text?: unknown }).text === 'string' ? (first as { text: string }).text : undefined;
    if (sql === undefined) return originalQuery.apply(this, args);
    let h: QueryHandles;
    try {
      h = perQuery.get(sql);
    } catch {
      return originalQuery.apply(this, args);
    }
    const ctx = currentContext();
    const span = tracer && ctx ? tracer.startSpan(h.spanName, 'client', { ...h.attrs }) : undefined;
    const start = performance.now();
    const done = (err: unknown, result: unknown) => {
      try {
        const ms = performance.now() - start;
        if (err === undefined) h.ok.record(ms / 1000);
        else duration.record(ms / 1000, { ...h.attrs, 'error.type': errorType(err), ...sqlState(err) });
        const rows = rowCount(result);
        if (rows !== undefined) h.rows.record(rows);
        if (ctx) {
          ctx.dbCalls++;
          ctx.dbMs += ms;
          if (err !== undefined && ctx.childError === undefined) ctx.childError = errorType(err);
        }
        if (span) {
          if (rows !== undefined) span.attributes['db.response.returned_rows'] = rows;
          endSpan(span, err);
        }
      } catch {
        // monitoring never breaks a query
      }
    };
    // submittables (pg-cursor, pg-query-stream) report through events
    if (first && typeof (first as { submit?: unknown }).submit === 'function') {
      const ee = first as { once?: (e: string, f: (x?: unknown) => void) => void };
      ee.once?.('end', (r) => done(undefined, r));
      ee.once?.('error', (e) => done(e, undefined));
      return originalQuery.apply(this, args);
    }
    const cbIndex = typeof args[args.length - 1] === 'function' ? args.length - 1 : -1;
    const configCb = first && typeof first === 'object' && typeof (first as { callback?: unknown }).callback === 'function';
    if (cbIndex >= 0) {
      const cb = args[cbIndex] as (this: unknown, ...a: unknown[]) => unknown;
      // pg calls back from its socket's context: bind so the app's callback stays in its request
      const bound = ctx ? bindContext(cb) : cb;
      args[cbIndex] = function (this: unknown, ...a: unknown[]) {
        done(a[0] ?? undefined, a[1]);
        return bound.apply(this, a);
      };
      return originalQuery.apply(this, args);
    }
    if (configCb) return originalQuery.apply(this, args);
    const ret = originalQuery.apply(this, args) as PromiseLike<unknown> | undefined;
    if (!ret || typeof ret.then !== 'function') return ret;
    return ret.then(
      (r) => {
        done(undefined, r);
        return r;
      },
      (e) => {
        done(e ?? new Error('query failed'), undefined);
        throw e;
      },
    );
  };

  const originalConnect = pgModule.Pool.prototype.connect;
  const seenPools = new WeakSet<object>();
  const poolHandles = new WeakMap<object, { idle: Handle; used: Handle; pending: Handle; wait: Handle }>();
  const handlesOf = (pool: PoolLike) => {
    let h = poolHandles.get(pool);
    if (!h) {
      const name = { 'db.client.connection.pool.name': poolName(pool) };
      h = { idle: connCount.bind({ ...name, 'db.client.connection.state': 'idle' }), used: connCount.bind({ ...name, 'db.client.connection.state': 'used' }), pending: pending.bind(name), wait: waitTime.bind(name) };
      poolHandles.set(pool, h);
    }
    return h;
  };
  const poolState = (pool: PoolLike) => {
    const h = handlesOf(pool);
    const total = pool.totalCount ?? 0;
    const idle = pool.idleCount ?? 0;
    h.idle.record(idle);
    h.used.record(total - idle);
    h.pending.record(pool.waitingCount ?? 0);
  };
  const connect = function (this: PoolLike, ...args: unknown[]): unknown {
    const pool: PoolLike = this; // eslint-disable-line @typescript-eslint/no-this-alias -- the listener needs the pool after this call
    const start = performance.now();
    try {
      if (!seenPools.has(pool)) {
        seenPools.add(pool);
        pool.on?.('release', () => {
          try {
            poolState(pool);
          } catch {
            // ditto
          }
        });
      }
    } catch {
      // ditto
    }
    const acquired = (err: unknown) => {
      try {
        if (!err) handlesOf(pool).wait.record((performance.now() - start) / 1000);
        poolState(pool);
      } catch {
        // ditto
      }
    };
    if (typeof args[0] === 'function') {
      const cb = args[0] as (...a: unknown[]) => unknown;
      // bound to the caller's request: a queued caller gets its client from inside the call stack of
      // the request that released it (Pool.query takes this path), and its queries belong to it
      args[0] = bindContext(function (this: unknown, ...a: unknown[]) {
        acquired(a[0]);
        return cb.apply(this, a);
      });
      return originalConnect.apply(this, args);
    }
    const ret = originalConnect.apply(this, args) as PromiseLike<unknown>;
    if (!ret || typeof ret.then !== 'function') return ret;
    return ret.then(
      (c) => {
        acquired(undefined);
        return c;
      },
      (e) => {
        acquired(e ?? new Error('connect failed'));
        throw e;
      },
    );
  };

  clientProto.query = query;
  poolProto.connect = connect;
  clientProto[PATCHED] = true;
  return () => {
    if (clientProto.query === query) clientProto.query = originalQuery;
    if (poolProto.connect === connect) poolProto.connect = originalConnect;
    delete clientProto[PATCHED];
  };
}

function dbAttrs(fp: QueryFingerprint): Record<string, string> {
  const a: Record<string, string> = { 'db.system.name': 'postgresql', 'db.operation.name': fp.operation, 'db.query.text': fp.text };
  if (fp.collection) a['db.collection.name'] = fp.collection;
  return a;
}

function sqlState(err: unknown): Record<string, string> {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? { 'db.response.status_code': code } : {};
}

function rowCount(result: unknown): number | undefined {
  if (!result || typeof result !== 'object') return undefined;
  const r = result as { rows?: unknown; rowCount?: unknown; command?: unknown };
  if (Array.isArray(r.rows) && r.command === 'SELECT') return r.rows.length;
  return typeof r.rowCount === 'number' ? r.rowCount : undefined;
}

const poolNames = new WeakMap<object, string>();

function poolName(pool: PoolLike): string {
  let name = poolNames.get(pool);
  if (name === undefined) poolNames.set(pool, (name = describePool(pool)));
  return name;
}

function describePool(pool: PoolLike): string {
  const o = pool.options ?? {};
  if (o.host || o.database) return `${o.host ?? 'localhost'}:${o.port ?? 5432}/${o.database ?? ''}`;
  if (o.connectionString) {
    try {
      const u = new URL(o.connectionString);
      return `${u.hostname}:${u.port || 5432}${u.pathname}`; // never the password
    } catch {
      return 'pool';
    }
  }
  return 'pool';
}
