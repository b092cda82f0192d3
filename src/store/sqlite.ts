// Embedded default: SQLite through better-sqlite3 (why, and the DuckDB comparison: docs/decisions.md).
// WAL + synchronous=FULL: a write resolves after its commit reached the disk, so an acknowledged
// ingest survives SIGKILL and power loss. All calls are synchronous, so a write is one transaction.
import fs from 'node:fs';
import path from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { mergeHistogramData } from '../model/histogram.js';
import { seriesKey, type MetricKind, type MetricPoint } from '../model/metrics.js';
import { decodeHistogram, encodeHistogram } from './codec.js';
import { coalesce, HOUR, toRow, type Row } from './rows.js';
import type { AlertEventRow, LoadTestRun, Resolution, StoredAlert, RetentionPolicy, SeriesRow, SpanRow, Store, TraceFilter, TraceSummary } from './store.js';
import { isEntry, routeOf, spanFromDb, traceLimit, type SpanDbRow } from './spans.js';
import { encodeSamples, runFromDb, runLimit, type RunDbRow } from './runs.js';
import { SQLITE_MIGRATIONS } from './migrations.js';

/**
 * Series rolled up in one step (an hour of each: up to 60 rows a series), and rows deleted by one
 * statement: each step a few tens of milliseconds here. 2,000 series a step held the event loop
 * 861 ms in the reliability run (docs/benchmarks.md).
 */
const SERIES_PER_STEP = 250;
const ROWS_PER_DELETE = 50_000;

type DbRow = { series_id: number; t: number; count: number; sum: number; min: number; max: number; last: number; last_time: number; hist: Buffer | null };

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  private readonly db: Database.Database;
  private readonly seriesIds = new Map<string, number>();
  private watermark = 0;
  private stmts!: ReturnType<SqliteStore['prepare']>;

  private readonly seriesPerStep: number;
  private readonly rowsPerDelete: number;

  /** seriesPerStep, rowsPerDelete: the steps of rollup and retention (defaults SERIES_PER_STEP, ROWS_PER_DELETE) */
  constructor(file: string, options: { synchronous?: 'FULL' | 'NORMAL'; seriesPerStep?: number; rowsPerDelete?: number } = {}) {
    this.seriesPerStep = options.seriesPerStep ?? SERIES_PER_STEP;
    this.rowsPerDelete = options.rowsPerDelete ?? ROWS_PER_DELETE;
    if (file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`);
    this.db.pragma('busy_timeout = 5000');
    this.db.function('hist_merge', { deterministic: true }, (a: unknown, b: unknown) => {
      if (!(a instanceof Uint8Array)) return b;
      if (!(b instanceof Uint8Array)) return a;
      return encodeHistogram(mergeHistogramData(decodeHistogram(a), decodeHistogram(b)));
    });
  }

  async migrate(): Promise<void> {
    this.db.exec('CREATE TABLE IF NOT EXISTS migrations (id TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)');
    const done = new Set(this.db.prepare('SELECT id FROM migrations').pluck().all() as string[]);
    for (const m of SQLITE_MIGRATIONS) {
      if (done.has(m.id)) continue;
      this.db.transaction(() => {
        this.db.exec(m.sql);
        this.db.prepare('INSERT INTO migrations (id, applied_at) VALUES (?, ?)').run(m.id, Date.now());
      })();
    }
    this.stmts = this.prepare();
    this.watermark = Number(this.stmts.getMeta.get('hour_watermark') ?? 0);
  }

  private prepare() {
    const upsert = (table: string) =>
      this.db.prepare(`INSERT INTO ${table} (series_id, t, count, sum, min, max, last, last_time, hist) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (series_id, t) DO UPDATE SET count = count + excluded.count, sum = sum + excluded.sum,
          min = min(min, excluded.min), max = max(max, excluded.max),
          last = CASE WHEN excluded.last_time >= last_time THEN excluded.last ELSE last END,
          last_time = max(last_time, excluded.last_time), hist = hist_merge(hist, excluded.hist)`);
    return {
      insertSeries: this.db.prepare('INSERT INTO series (key, metric, kind, unit, description, service, instance, attributes) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING'),
      seriesId: this.db.prepare('SELECT id FROM series WHERE key = ?').pluck(),
      upsertMinute: upsert('points_minute'),
      upsertHour: upsert('points_hour'),
      getMeta: this.db.prepare('SELECT value FROM meta WHERE key = ?').pluck(),
      setMeta: this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
      insertSpan: this.db.prepare(`INSERT INTO spans (trace_id, span_id, parent_span_id, service, instance, name, kind, start, duration, status, status_message, route, entry, attributes)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (trace_id, span_id) DO NOTHING`),
      trace: this.db.prepare('SELECT * FROM spans WHERE trace_id = ? ORDER BY start, span_id'),
    };
  }

  async write(points: MetricPoint[]): Promise<void> {
    if (points.length === 0) return;
    this.db.transaction(() => {
      const rows = coalesce(points.map((p) => toRow(p, this.ensureSeries(p))));
      for (const r of rows) {
        this.upsert(this.stmts.upsertMinute, r);
        if (r.t < this.watermark) this.upsert(this.stmts.upsertHour, { ...r, t: Math.floor(r.t / HOUR) * HOUR });
      }
    })();
  }

  private upsert(stmt: Database.Statement, r: Row): void {
    stmt.run(r.seriesId, r.t, r.count, r.sum, r.min, r.max, r.last, r.lastTime, r.hist ? encodeHistogram(r.hist) : null);
  }

  private ensureSeries(p: MetricPoint): number {
    const key = seriesKey(p.metric, p.service, p.instance, p.attributes);
    let id = this.seriesIds.get(key);
    if (id === undefined) {
      this.stmts.insertSeries.run(key, p.metric, p.kind, p.unit, p.description ?? '', p.service, p.instance, JSON.stringify(p.attributes));
      id = this.stmts.seriesId.get(key) as number;
      this.seriesIds.set(key, id);
    }
    return id;
  }

  async listSeries(metrics?: string[]): Promise<SeriesRow[]> {
    const sql = 'SELECT id, metric, kind, unit, service, instance, attributes FROM series';
    const rows = (metrics && metrics.length > 0
      ? this.db.prepare(`${sql} WHERE metric IN (${metrics.map(() => '?').join(',')}) ORDER BY id`).all(...metrics)
      : this.db.prepare(`${sql} ORDER BY id`).all()) as (Omit<SeriesRow, 'attributes'> & { attributes: string })[];
    return rows.map((r) => ({ ...r, attributes: JSON.parse(r.attributes) }));
  }

  async listMetrics(): Promise<{ name: string; kind: MetricKind; unit: string; series: number }[]> {
    // counted on the metric index alone, then kind and unit from one series of each: 63 ms for 1M
    // series here, against 470 ms for one GROUP BY that reads every row (a synchronous call)
    const counts = this.db.prepare('SELECT metric AS name, count(*) AS series FROM series GROUP BY metric ORDER BY metric').all() as { name: string; series: number }[];
    const one = this.db.prepare('SELECT kind, unit FROM series WHERE metric = ? LIMIT 1');
    return counts.map((c) => ({ name: c.name, ...(one.get(c.name) as { kind: MetricKind; unit: string }), series: c.series }));
  }

  async readRows(seriesIds: number[], from: number, to: number, resolution: Resolution): Promise<Row[]> {
    if (seriesIds.length === 0) return [];
    const table = resolution === 'hour' ? 'points_hour' : 'points_minute';
    const out: Row[] = [];
    // json_each keeps the statement fixed whatever the number of series (no 999-parameter limit).
    const stmt = this.db.prepare(`SELECT p.* FROM ${table} p WHERE p.series_id IN (SELECT value FROM json_each(?)) AND p.t >= ? AND p.t < ? ORDER BY p.t`);
    for (const r of stmt.iterate(JSON.stringify(seriesIds), from, to) as Iterable<DbRow>) out.push(fromDb(r));
    return out;
  }

  async hourWatermark(): Promise<number> {
    return this.watermark;
  }

  /**
   * Rolls each complete hour in steps of SERIES_PER_STEP series, one transaction each, yielding to
   * the event loop between them: all calls here are synchronous, and an hour of 100k series is
   * millions of rows (a restart with hours to catch up must not stop the server answering). The
   * watermark moves once the hour's last step is in; a point arriving for a step already rolled,
   * more than settleMs after its hour ended, stays in the minute rows only.
   */
  async rollup(now: number, settleMs = 5 * 60_000): Promise<number> {
    const end = Math.floor((now - settleMs) / HOUR) * HOUR;
    if (this.watermark === 0) {
      const first = this.db.prepare('SELECT min(t) FROM points_minute').pluck().get() as number | null;
      if (first === null) return 0;
      this.watermark = Math.floor(first / HOUR) * HOUR;
    }
    let hours = 0;
    const read = this.db.prepare('SELECT * FROM points_minute WHERE series_id >= ? AND series_id < ? AND t >= ? AND t < ?');
    const clear = this.db.prepare('DELETE FROM points_hour WHERE series_id >= ? AND series_id < ? AND t = ?');
    for (let h = this.watermark; h < end; h += HOUR) {
      const last = (this.db.prepare('SELECT max(id) FROM series').pluck().get() as number | null) ?? 0;
      for (let from = 0; from <= last; from += this.seriesPerStep) {
        this.db.transaction(() => {
          const rows = coalesce((read.all(from, from + this.seriesPerStep, h, h + HOUR) as DbRow[]).map(fromDb), HOUR);
          clear.run(from, from + this.seriesPerStep, h);
          for (const r of rows) this.upsert(this.stmts.upsertHour, r);
        })();
        await yieldToLoop();
      }
      this.stmts.setMeta.run('hour_watermark', String(h + HOUR));
      this.watermark = h + HOUR;
      hours++;
    }
    return hours;
  }

  async writeSpans(spans: SpanRow[]): Promise<void> {
    if (spans.length === 0) return;
    this.db.transaction(() => {
      for (const s of spans) {
        this.stmts.insertSpan.run(s.traceId, s.spanId, s.parentSpanId ?? null, s.service, s.instance, s.name, s.kind, s.start, s.duration, s.status, s.statusMessage ?? null, routeOf(s), isEntry(s) ? 1 : 0, JSON.stringify(s.attributes));
      }
    })();
  }

  async listTraces(f: TraceFilter): Promise<TraceSummary[]> {
    const where = ['e.entry = 1'];
    const args: unknown[] = [];
    const cond = (sql: string, v: unknown) => {
      where.push(sql);
      args.push(v);
    };
    if (f.from !== undefined) cond('e.start >= ?', f.from);
    if (f.to !== undefined) cond('e.start < ?', f.to);
    if (f.service) cond('e.service = ?', f.service);
    if (f.route) cond('e.route = ?', f.route);
    if (f.minDurationMs !== undefined) cond('e.duration >= ?', f.minDurationMs);
    if (f.errorsOnly) where.push("EXISTS (SELECT 1 FROM spans x WHERE x.trace_id = e.trace_id AND x.status = 'error')");
    args.push(traceLimit(f));
    const rows = this.db
      .prepare(
        `SELECT e.trace_id, e.service, e.name, e.route, e.start, e.duration,
                (SELECT count(*) FROM spans x WHERE x.trace_id = e.trace_id) AS spans,
                EXISTS (SELECT 1 FROM spans x WHERE x.trace_id = e.trace_id AND x.status = 'error') AS error
           FROM spans e WHERE ${where.join(' AND ')} ORDER BY e.duration DESC LIMIT ?`,
      )
      .all(...args) as { trace_id: string; service: string; name: string; route: string | null; start: number; duration: number; spans: number; error: number }[];
    return rows.map((r) => ({ traceId: r.trace_id, service: r.service, name: r.name, route: r.route ?? undefined, start: r.start, duration: r.duration, error: r.error === 1, spans: r.spans }));
  }

  async getTrace(traceId: string): Promise<SpanRow[]> {
    return (this.stmts.trace.all(traceId) as SpanDbRow[]).map(spanFromDb);
  }

  async saveRun(r: LoadTestRun): Promise<void> {
    this.db
      .prepare('INSERT INTO loadtest_runs (id, scenario, profile, target, started_at, finished_at, passed, git_revision, environment, result, samples) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(r.id, r.scenario, r.profile, r.target, r.startedAt, r.finishedAt, r.passed ? 1 : 0, r.gitRevision ?? null, JSON.stringify(r.environment), JSON.stringify(r.result), encodeSamples(r.samples));
  }

  async getRun(id: string): Promise<LoadTestRun | undefined> {
    const row = this.db.prepare('SELECT * FROM loadtest_runs WHERE id = ?').get(id) as RunDbRow | undefined;
    return row ? runFromDb(row) : undefined;
  }

  async listRuns(f: { scenario?: string; profile?: string; before?: number; limit?: number }): Promise<LoadTestRun[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    const cond = (sql: string, v: unknown) => {
      where.push(sql);
      args.push(v);
    };
    if (f.scenario) cond('scenario = ?', f.scenario);
    if (f.profile) cond('profile = ?', f.profile);
    if (f.before !== undefined) cond('started_at < ?', f.before);
    args.push(runLimit(f.limit));
    const rows = this.db.prepare(`SELECT id, scenario, profile, target, started_at, finished_at, passed, git_revision, environment, result FROM loadtest_runs ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY started_at DESC LIMIT ?`).all(...args) as RunDbRow[];
    return rows.map(runFromDb);
  }

  async listDocs(kind: string): Promise<{ id: string; body: Record<string, unknown> }[]> {
    return (this.db.prepare('SELECT id, body FROM docs WHERE kind = ? ORDER BY id').all(kind) as { id: string; body: string }[]).map((r) => ({ id: r.id, body: JSON.parse(r.body) }));
  }

  async putDoc(kind: string, id: string, body: Record<string, unknown>): Promise<void> {
    this.db.prepare('INSERT INTO docs (kind, id, body) VALUES (?, ?, ?) ON CONFLICT (kind, id) DO UPDATE SET body = excluded.body').run(kind, id, JSON.stringify(body));
  }

  async deleteDoc(kind: string, id: string): Promise<boolean> {
    return this.db.prepare('DELETE FROM docs WHERE kind = ? AND id = ?').run(kind, id).changes > 0;
  }

  async loadAlerts(): Promise<StoredAlert[]> {
    return (this.db.prepare('SELECT key, state FROM alerts ORDER BY key').all() as { key: string; state: string }[]).map((r) => ({ key: r.key, state: JSON.parse(r.state) }));
  }

  async saveAlerts(upserts: StoredAlert[], deletes: string[], events: AlertEventRow[]): Promise<void> {
    const up = this.db.prepare('INSERT INTO alerts (key, state) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET state = excluded.state');
    const del = this.db.prepare('DELETE FROM alerts WHERE key = ?');
    const ev = this.db.prepare('INSERT INTO alert_events (at, kind, key, body) VALUES (?, ?, ?, ?)');
    this.db.transaction(() => {
      for (const a of upserts) up.run(a.key, JSON.stringify(a.state));
      for (const k of deletes) del.run(k);
      for (const e of events) ev.run(e.at, e.kind, e.key, JSON.stringify(e.body));
    })();
  }

  async alertEvents(f: { since?: number; limit?: number }): Promise<AlertEventRow[]> {
    const rows = this.db.prepare('SELECT at, kind, key, body FROM alert_events WHERE at >= ? ORDER BY at DESC, id DESC LIMIT ?').all(f.since ?? 0, runLimit(f.limit ?? 100)) as { at: number; kind: AlertEventRow['kind']; key: string; body: string }[];
    return rows.map((r) => ({ at: r.at, kind: r.kind, key: r.key, body: JSON.parse(r.body) }));
  }

  /** One process owns an SQLite file's server: nothing to coordinate. */
  async exclusive<T>(_name: string, fn: () => Promise<T>): Promise<T | undefined> {
    return fn();
  }

  async applyRetention(now: number, policy: RetentionPolicy): Promise<{ minutes: number; hours: number; spans: number }> {
    // minutes are only dropped once their hour has been rolled up
    const minuteCut = Math.min(now - policy.minuteMs, this.watermark);
    const minutes = await this.deleteInSteps('points_minute', 't', minuteCut);
    const hours = await this.deleteInSteps('points_hour', 't', now - policy.hourMs);
    const spans = await this.deleteInSteps('spans', 'start', now - policy.minuteMs);
    return { minutes, hours, spans };
  }

  /** DELETE … WHERE column < cut, about rowsPerDelete rows a statement, yielding between them (see rollup). */
  private async deleteInSteps(table: 'points_minute' | 'points_hour' | 'spans', column: 't' | 'start', cut: number): Promise<number> {
    // the tables are WITHOUT ROWID: a step is a range of the time index up to the ROWS_PER_DELETE-th row
    const nth = this.db.prepare(`SELECT ${column} FROM ${table} WHERE ${column} < ? ORDER BY ${column} LIMIT 1 OFFSET ?`).pluck();
    const upToCut = this.db.prepare(`DELETE FROM ${table} WHERE ${column} < ?`);
    // through the step's last time, so that rows sharing one time (a minute of every series) cannot stall it
    const through = this.db.prepare(`DELETE FROM ${table} WHERE ${column} <= ?`);
    let total = 0;
    for (;;) {
      const upTo = nth.get(cut, this.rowsPerDelete) as number | undefined;
      if (upTo === undefined) return total + upToCut.run(cut).changes;
      total += through.run(upTo).changes;
      await yieldToLoop();
    }
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

function fromDb(r: DbRow): Row {
  return { seriesId: r.series_id, t: r.t, count: r.count, sum: r.sum, min: r.min, max: r.max, last: r.last, lastTime: r.last_time, hist: r.hist ? decodeHistogram(r.hist) : undefined };
}

