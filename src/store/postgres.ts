// Shared store for several app instances and server replicas. Writers serialise per series bucket
// with transaction-scoped advisory locks (taken in sorted order, so never deadlock), merge in JS with
// the same rule as SQLite (rows.ts), and upsert. Every statement is parameterised.
import pg from 'pg';
import { seriesKey, type MetricKind, type MetricPoint } from '../model/metrics.js';
import { decodeHistogram, encodeHistogram } from './codec.js';
import { coalesce, HOUR, mergeRow, toRow, type Row } from './rows.js';
import type { AlertEventRow, LoadTestRun, Resolution, StoredAlert, RetentionPolicy, SeriesRow, SpanRow, Store, TraceFilter, TraceSummary } from './store.js';
import { isEntry, routeOf, spanFromDb, traceLimit } from './spans.js';
import { encodeSamples, runFromDb, runLimit } from './runs.js';
import { POSTGRES_MIGRATIONS } from './migrations.js';

/** Advisory-lock namespace of this product (first key of the two-int form). */
const LOCK_NS = 0x50455246; // "PERF"
const LOCK_BUCKETS = 64;
const LOCK_MIGRATE = -1;
const LOCK_ROLLUP = -2;

type DbRow = { series_id: string; t: string; count: number; sum: number; min: number; max: number; last: number; last_time: string; hist: Buffer | null };

export class PostgresStore implements Store {
  readonly kind = 'postgres' as const;
  readonly pool: pg.Pool;
  private readonly seriesIds = new Map<string, number>();

  constructor(connectionString: string, options: { max?: number } = {}) {
    this.pool = new pg.Pool({ connectionString, max: options.max ?? 5 });
    // an idle client that errors (server restart) must not crash the process
    this.pool.on('error', () => {});
  }

  private async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const result = await fn(c);
      await c.query('COMMIT');
      return result;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      c.release();
    }
  }

  async migrate(): Promise<void> {
    await this.tx(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_NS, LOCK_MIGRATE]);
      await c.query('CREATE TABLE IF NOT EXISTS perf_migrations (id TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)');
      const done = new Set((await c.query('SELECT id FROM perf_migrations')).rows.map((r) => r.id as string));
      for (const m of POSTGRES_MIGRATIONS) {
        if (done.has(m.id)) continue;
        await c.query(m.sql);
        await c.query('INSERT INTO perf_migrations (id, applied_at) VALUES ($1, $2)', [m.id, Date.now()]);
      }
    });
  }

  async write(points: MetricPoint[]): Promise<void> {
    if (points.length === 0) return;
    const ids = await this.ensureSeries(points);
    const rows = coalesce(points.map((p, i) => toRow(p, ids[i])));
    await this.tx(async (c) => {
      const buckets = [...new Set(rows.map((r) => r.seriesId % LOCK_BUCKETS))].sort((a, b) => a - b);
      await c.query('SELECT pg_advisory_xact_lock($1, b) FROM (SELECT unnest($2::int[]) AS b ORDER BY 1) s', [LOCK_NS, buckets]);
      const wm = await this.readWatermark(c);
      await this.mergeInto(c, 'perf_points_minute', rows);
      const late = rows.filter((r) => r.t < wm);
      if (late.length > 0) await this.mergeInto(c, 'perf_points_hour', coalesce(late, HOUR));
    });
  }

  /** Read-merge-write under the bucket locks held by the caller's transaction. */
  private async mergeInto(c: pg.PoolClient, table: string, rows: Row[]): Promise<void> {
    const existing = await c.query(
      `SELECT p.* FROM ${table} p JOIN unnest($1::bigint[], $2::bigint[]) k(s, t) ON p.series_id = k.s AND p.t = k.t`,
      [rows.map((r) => r.seriesId), rows.map((r) => r.t)],
    );
    const byKey = new Map<string, Row>(existing.rows.map((r: DbRow) => [`${r.series_id}:${r.t}`, fromDb(r)]));
    const merged = rows.map((r) => {
      const found = byKey.get(`${r.seriesId}:${r.t}`);
      return found ? mergeRow(found, r) : r;
    });
    await upsertRows(c, table, merged);
  }

  private async ensureSeries(points: MetricPoint[]): Promise<number[]> {
    const keys = points.map((p) => seriesKey(p.metric, p.service, p.instance, p.attributes));
    const missing = new Map<string, MetricPoint>();
    keys.forEach((k, i) => {
      if (!this.seriesIds.has(k)) missing.set(k, points[i]);
    });
    if (missing.size > 0) {
      const ps = [...missing.values()];
      const ks = [...missing.keys()];
      await this.pool.query(
        `INSERT INTO perf_series (key, metric, kind, unit, description, service, instance, attributes)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::jsonb[])
         ON CONFLICT (key) DO NOTHING`,
        [ks, ps.map((p) => p.metric), ps.map((p) => p.kind), ps.map((p) => p.unit), ps.map((p) => p.description ?? ''), ps.map((p) => p.service), ps.map((p) => p.instance), ps.map((p) => JSON.stringify(p.attributes))],
      );
      const found = await this.pool.query('SELECT id, key FROM perf_series WHERE key = ANY($1::text[])', [ks]);
      for (const r of found.rows) this.seriesIds.set(r.key, Number(r.id));
    }
    return keys.map((k) => this.seriesIds.get(k) as number);
  }

  async listSeries(metrics?: string[]): Promise<SeriesRow[]> {
    const sql = 'SELECT id, metric, kind, unit, service, instance, attributes FROM perf_series';
    const res = metrics && metrics.length > 0 ? await this.pool.query(`${sql} WHERE metric = ANY($1::text[]) ORDER BY id`, [metrics]) : await this.pool.query(`${sql} ORDER BY id`);
    return res.rows.map((r) => ({ ...r, id: Number(r.id) }));
  }

  async listMetrics(): Promise<{ name: string; kind: MetricKind; unit: string; series: number }[]> {
    const res = await this.pool.query('SELECT metric AS name, kind, unit, count(*)::int AS series FROM perf_series GROUP BY metric, kind, unit ORDER BY metric');
    return res.rows;
  }

  async readRows(seriesIds: number[], from: number, to: number, resolution: Resolution): Promise<Row[]> {
    if (seriesIds.length === 0) return [];
    const table = resolution === 'hour' ? 'perf_points_hour' : 'perf_points_minute';
    const res = await this.pool.query(`SELECT * FROM ${table} WHERE series_id = ANY($1::bigint[]) AND t >= $2 AND t < $3 ORDER BY t`, [seriesIds, from, to]);
    return res.rows.map(fromDb);
  }

  private async readWatermark(c: pg.ClientBase | pg.Pool): Promise<number> {
    const res = await c.query("SELECT value FROM perf_meta WHERE key = 'hour_watermark'");
    return res.rows.length ? Number(res.rows[0].value) : 0;
  }

  async hourWatermark(): Promise<number> {
    return this.readWatermark(this.pool);
  }

  async rollup(now: number, settleMs = 5 * 60_000): Promise<number> {
    const end = Math.floor((now - settleMs) / HOUR) * HOUR;
    let hours = 0;
    while (true) {
      const rolled = await this.tx(async (c) => {
        // only one replica rolls up; the others skip this cycle
        const got = await c.query('SELECT pg_try_advisory_xact_lock($1, $2) AS ok', [LOCK_NS, LOCK_ROLLUP]);
        if (!got.rows[0].ok) return false;
        let wm = await this.readWatermark(c);
        if (wm === 0) {
          const first = await c.query('SELECT min(t) AS t FROM perf_points_minute');
          if (first.rows[0].t === null) return false;
          wm = Math.floor(Number(first.rows[0].t) / HOUR) * HOUR;
        }
        if (wm >= end) return false;
        // writers of late rows hold bucket locks; take them all so this hour is read consistently
        await c.query('SELECT pg_advisory_xact_lock($1, b) FROM generate_series(0, $2::int - 1) b', [LOCK_NS, LOCK_BUCKETS]);
        const res = await c.query('SELECT * FROM perf_points_minute WHERE t >= $1 AND t < $2', [wm, wm + HOUR]);
        await c.query('DELETE FROM perf_points_hour WHERE t = $1', [wm]);
        await upsertRows(c, 'perf_points_hour', coalesce(res.rows.map(fromDb), HOUR));
        await c.query("INSERT INTO perf_meta (key, value) VALUES ('hour_watermark', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value", [String(wm + HOUR)]);
        return true;
      });
      if (!rolled) return hours;
      hours++;
    }
  }

  async writeSpans(spans: SpanRow[]): Promise<void> {
    if (spans.length === 0) return;
    await this.pool.query(
      `INSERT INTO perf_spans (trace_id, span_id, parent_span_id, service, instance, name, kind, start, duration, status, status_message, route, entry, attributes)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::float8[], $9::float8[], $10::text[], $11::text[], $12::text[], $13::bool[], $14::jsonb[])
       ON CONFLICT (trace_id, span_id) DO NOTHING`,
      [
        spans.map((s) => s.traceId),
        spans.map((s) => s.spanId),
        spans.map((s) => s.parentSpanId ?? null),
        spans.map((s) => s.service),
        spans.map((s) => s.instance),
        spans.map((s) => s.name),
        spans.map((s) => s.kind),
        spans.map((s) => s.start),
        spans.map((s) => s.duration),
        spans.map((s) => s.status),
        spans.map((s) => s.statusMessage ?? null),
        spans.map((s) => routeOf(s)),
        spans.map((s) => isEntry(s)),
        spans.map((s) => JSON.stringify(s.attributes)),
      ],
    );
  }

  async listTraces(f: TraceFilter): Promise<TraceSummary[]> {
    const where = ['e.entry'];
    const args: unknown[] = [];
    const arg = (v: unknown) => (args.push(v), `$${args.length}`);
    if (f.from !== undefined) where.push(`e.start >= ${arg(f.from)}`);
    if (f.to !== undefined) where.push(`e.start < ${arg(f.to)}`);
    if (f.service) where.push(`e.service = ${arg(f.service)}`);
    if (f.route) where.push(`e.route = ${arg(f.route)}`);
    if (f.minDurationMs !== undefined) where.push(`e.duration >= ${arg(f.minDurationMs)}`);
    if (f.errorsOnly) where.push("EXISTS (SELECT 1 FROM perf_spans x WHERE x.trace_id = e.trace_id AND x.status = 'error')");
    const { rows } = await this.pool.query(
      `SELECT e.trace_id, e.service, e.name, e.route, e.start, e.duration,
              (SELECT count(*) FROM perf_spans x WHERE x.trace_id = e.trace_id) AS spans,
              EXISTS (SELECT 1 FROM perf_spans x WHERE x.trace_id = e.trace_id AND x.status = 'error') AS error
         FROM perf_spans e WHERE ${where.join(' AND ')} ORDER BY e.duration DESC LIMIT ${arg(traceLimit(f))}`,
      args,
    );
    return rows.map((r) => ({ traceId: r.trace_id, service: r.service, name: r.name, route: r.route ?? undefined, start: Number(r.start), duration: Number(r.duration), error: r.error === true, spans: Number(r.spans) }));
  }

  async getTrace(traceId: string): Promise<SpanRow[]> {
    const { rows } = await this.pool.query('SELECT * FROM perf_spans WHERE trace_id = $1 ORDER BY start, span_id', [traceId]);
    return rows.map(spanFromDb);
  }

  async saveRun(r: LoadTestRun): Promise<void> {
    await this.pool.query(
      'INSERT INTO perf_loadtest_runs (id, scenario, profile, target, started_at, finished_at, passed, git_revision, environment, result, samples) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)',
      [r.id, r.scenario, r.profile, r.target, r.startedAt, r.finishedAt, r.passed, r.gitRevision ?? null, JSON.stringify(r.environment), JSON.stringify(r.result), encodeSamples(r.samples)],
    );
  }

  async getRun(id: string): Promise<LoadTestRun | undefined> {
    const { rows } = await this.pool.query('SELECT * FROM perf_loadtest_runs WHERE id = $1', [id]);
    return rows[0] ? runFromDb(rows[0]) : undefined;
  }

  async listRuns(f: { scenario?: string; profile?: string; before?: number; limit?: number }): Promise<LoadTestRun[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    const arg = (v: unknown) => (args.push(v), `$${args.length}`);
    if (f.scenario) where.push(`scenario = ${arg(f.scenario)}`);
    if (f.profile) where.push(`profile = ${arg(f.profile)}`);
    if (f.before !== undefined) where.push(`started_at < ${arg(f.before)}`);
    const { rows } = await this.pool.query(
      `SELECT id, scenario, profile, target, started_at, finished_at, passed, git_revision, environment, result FROM perf_loadtest_runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY started_at DESC LIMIT ${arg(runLimit(f.limit))}`,
      args,
    );
    return rows.map(runFromDb);
  }

  async listDocs(kind: string): Promise<{ id: string; body: Record<string, unknown> }[]> {
    const { rows } = await this.pool.query('SELECT id, body FROM perf_docs WHERE kind = $1 ORDER BY id', [kind]);
    return rows.map((r) => ({ id: r.id, body: r.body }));
  }

  async putDoc(kind: string, id: string, body: Record<string, unknown>): Promise<void> {
    await this.pool.query('INSERT INTO perf_docs (kind, id, body) VALUES ($1, $2, $3) ON CONFLICT (kind, id) DO UPDATE SET body = excluded.body', [kind, id, JSON.stringify(body)]);
  }

  async deleteDoc(kind: string, id: string): Promise<boolean> {
    return ((await this.pool.query('DELETE FROM perf_docs WHERE kind = $1 AND id = $2', [kind, id])).rowCount ?? 0) > 0;
  }

  async loadAlerts(): Promise<StoredAlert[]> {
    const { rows } = await this.pool.query('SELECT key, state FROM perf_alerts ORDER BY key');
    return rows.map((r) => ({ key: r.key, state: r.state }));
  }

  async saveAlerts(upserts: StoredAlert[], deletes: string[], events: AlertEventRow[]): Promise<void> {
    await this.tx(async (c) => {
      if (upserts.length) await c.query('INSERT INTO perf_alerts (key, state) SELECT * FROM unnest($1::text[], $2::jsonb[]) ON CONFLICT (key) DO UPDATE SET state = excluded.state', [upserts.map((a) => a.key), upserts.map((a) => JSON.stringify(a.state))]);
      if (deletes.length) await c.query('DELETE FROM perf_alerts WHERE key = ANY($1::text[])', [deletes]);
      if (events.length) await c.query('INSERT INTO perf_alert_events (at, kind, key, body) SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::jsonb[])', [events.map((e) => e.at), events.map((e) => e.kind), events.map((e) => e.key), events.map((e) => JSON.stringify(e.body))]);
    });
  }

  async alertEvents(f: { since?: number; limit?: number }): Promise<AlertEventRow[]> {
    const { rows } = await this.pool.query('SELECT at, kind, key, body FROM perf_alert_events WHERE at >= $1 ORDER BY at DESC, id DESC LIMIT $2', [f.since ?? 0, runLimit(f.limit ?? 100)]);
    return rows.map((r) => ({ at: Number(r.at), kind: r.kind, key: r.key, body: r.body }));
  }

  async exclusive<T>(name: string, fn: () => Promise<T>): Promise<T | undefined> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const { rows } = await c.query('SELECT pg_try_advisory_xact_lock($1, hashtext($2)) AS ok', [LOCK_NS, name]);
      if (!rows[0].ok) return undefined;
      return await fn();
    } finally {
      await c.query('COMMIT').catch(() => {});
      c.release();
    }
  }

  async applyRetention(now: number, policy: RetentionPolicy): Promise<{ minutes: number; hours: number; spans: number }> {
    const wm = await this.hourWatermark();
    const minutes = await this.pool.query('DELETE FROM perf_points_minute WHERE t < $1', [Math.min(now - policy.minuteMs, wm)]);
    const hours = await this.pool.query('DELETE FROM perf_points_hour WHERE t < $1', [now - policy.hourMs]);
    const spans = await this.pool.query('DELETE FROM perf_spans WHERE start < $1', [now - policy.minuteMs]);
    return { minutes: minutes.rowCount ?? 0, hours: hours.rowCount ?? 0, spans: spans.rowCount ?? 0 };
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

async function upsertRows(c: pg.ClientBase, table: string, rows: Row[]): Promise<void> {
  if (rows.length === 0) return;
  await c.query(
    `INSERT INTO ${table} (series_id, t, count, sum, min, max, last, last_time, hist)
     SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::float8[], $4::float8[], $5::float8[], $6::float8[], $7::float8[], $8::bigint[], $9::bytea[])
     ON CONFLICT (series_id, t) DO UPDATE SET count = excluded.count, sum = excluded.sum, min = excluded.min, max = excluded.max,
       last = excluded.last, last_time = excluded.last_time, hist = excluded.hist`,
    [
      rows.map((r) => r.seriesId),
      rows.map((r) => r.t),
      rows.map((r) => r.count),
      rows.map((r) => r.sum),
      rows.map((r) => r.min),
      rows.map((r) => r.max),
      rows.map((r) => r.last),
      rows.map((r) => r.lastTime),
      rows.map((r) => (r.hist ? encodeHistogram(r.hist) : null)),
    ],
  );
}

function fromDb(r: DbRow): Row {
  return { seriesId: Number(r.series_id), t: Number(r.t), count: r.count, sum: r.sum, min: r.min, max: r.max, last: r.last, lastTime: Number(r.last_time), hist: r.hist ? decodeHistogram(r.hist) : undefined };
}
