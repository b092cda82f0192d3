// PostgreSQL collector: what the server itself knows about its work, read from the statistics
// views (read-only; it never creates an extension or changes a setting).
//   pg_stat_statements   top statements by total time: calls, mean, rows, shared-buffer hit ratio
//   pg_stat_user_tables  sequential vs index scans, live/dead tuples, sizes
//   pg_stat_database     cache hit ratio;  pg_stat_activity: connections by state
//   pg_locks             locks by mode, and how many wait;  replication lag (primary or replicas)
// collect() returns a report (the CLI prints it, analyzers read it); record() turns it into gauges.
import type { Recorder } from '../sdk/recorder.js';
import { sanitizeSql } from '../instrument/sql.js';

/** Anything with pg's query(text, values) → { rows }: a Client or a Pool. */
export interface Queryable {
  query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
}

export interface TopStatement {
  queryId: string;
  /** normalised by PostgreSQL ($1 for constants) and sanitised again here */
  query: string;
  calls: number;
  totalMs: number;
  meanMs: number;
  rows: number;
  /** shared-buffer hits / (hits + reads); undefined when the statement touched no buffers */
  hitRatio: number | undefined;
}

export interface TableStats {
  table: string;
  seqScans: number;
  seqRowsRead: number;
  indexScans: number;
  liveRows: number;
  deadRows: number;
  totalBytes: number;
  indexBytes: number;
  /** rows inserted, updated and deleted since the statistics were reset */
  rowWrites: number;
  /** of which inserted */
  rowInserts: number;
}

export interface IndexStats {
  table: string;
  name: string;
  /** key columns in order (expressions as written) */
  columns: string[];
  scans: number;
  bytes: number;
  unique: boolean;
  primary: boolean;
  /** has a WHERE clause (partial index) */
  partial: boolean;
}

export interface PostgresReport {
  at: string;
  database: string;
  version: string;
  statementsAvailable: boolean;
  topStatements: TopStatement[];
  /** execution time of every statement pg_stat_statements holds for this database, ms */
  statementsTotalMs: number;
  /** of which SELECTs, ms */
  statementsReadMs: number;
  /** since when pg_stat_statements has counted (ISO; its last reset, PostgreSQL 14+) */
  statementsSince: string | undefined;
  tables: TableStats[];
  indexes: IndexStats[];
  /** when this database's statistics were last reset (ISO), if ever */
  statsReset: string | undefined;
  cacheHitRatio: number | undefined;
  connections: { byState: Record<string, number>; waitingOnLocks: number; max: number };
  locks: { mode: string; granted: boolean; count: number }[];
  databaseBytes: number;
  replication: { name: string; state: string; lagBytes: number | undefined; lagSeconds: number | undefined }[];
  /** what could not be read, and how to fix it */
  notes: string[];
}

export interface PostgresCollectorOptions {
  /** statements and tables reported (default 20) */
  limit?: number;
  /** replica connection strings: their replay lag is measured from their side */
  replicas?: string[];
}

const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));

export async function collectPostgres(db: Queryable, options: PostgresCollectorOptions = {}): Promise<PostgresReport> {
  const limit = options.limit ?? 20;
  const notes: string[] = [];
  const head = (await db.query('SELECT current_database() AS db, version() AS v, pg_database_size(current_database()) AS size, current_setting($1)::int AS max', ['max_connections'])).rows[0];
  const report: PostgresReport = {
    at: new Date().toISOString(),
    database: String(head.db),
    version: String(head.v).split(' on ')[0],
    statementsAvailable: false,
    topStatements: [],
    statementsTotalMs: 0,
    statementsReadMs: 0,
    statementsSince: undefined,
    tables: [],
    indexes: [],
    statsReset: undefined,
    cacheHitRatio: undefined,
    connections: { byState: {}, waitingOnLocks: 0, max: num(head.max) },
    locks: [],
    databaseBytes: num(head.size),
    replication: [],
    notes,
  };

  const ext = await db.query("SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'");
  if (ext.rows.length === 0) notes.push('pg_stat_statements is not installed in this database: add it to shared_preload_libraries and run CREATE EXTENSION pg_stat_statements');
  else {
    try {
      const r = await db.query(
        `SELECT queryid::text AS id, query, calls, total_exec_time AS total, mean_exec_time AS mean, rows, shared_blks_hit AS hit, shared_blks_read AS read
           FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
          ORDER BY total_exec_time DESC LIMIT $1`,
        [limit],
      );
      report.statementsAvailable = true;
      const sums = (await db.query("SELECT sum(total_exec_time) AS t, sum(total_exec_time) FILTER (WHERE query ~* '^\\s*(WITH\\y.*\\ySELECT|SELECT)\\y' AND query !~* '\\yFOR (UPDATE|SHARE)\\y') AS r FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())")).rows[0];
      report.statementsTotalMs = num(sums?.t);
      report.statementsReadMs = num(sums?.r);
      const since = await db.query('SELECT stats_reset FROM pg_stat_statements_info').catch(() => undefined);
      if (since?.rows[0]?.stats_reset) report.statementsSince = new Date(since.rows[0].stats_reset as string).toISOString();
      report.topStatements = r.rows.map((s) => {
        const hit = num(s.hit);
        const read = num(s.read);
        return { queryId: String(s.id), query: sanitizeSql(String(s.query ?? '')), calls: num(s.calls), totalMs: num(s.total), meanMs: num(s.mean), rows: num(s.rows), hitRatio: hit + read > 0 ? hit / (hit + read) : undefined };
      });
    } catch (e) {
      notes.push(`pg_stat_statements could not be read: ${(e as Error).message}`);
    }
  }

  const tables = await db.query(
    `SELECT schemaname || '.' || relname AS t, seq_scan, seq_tup_read, idx_scan, n_live_tup, n_dead_tup, n_tup_ins + n_tup_upd + n_tup_del AS writes, n_tup_ins AS inserts,
            pg_total_relation_size(relid) AS total, pg_indexes_size(relid) AS idx
       FROM pg_stat_user_tables ORDER BY seq_tup_read DESC, relname LIMIT $1`,
    [limit],
  );
  report.tables = tables.rows.map((t) => ({ table: String(t.t), seqScans: num(t.seq_scan), seqRowsRead: num(t.seq_tup_read), indexScans: num(t.idx_scan), liveRows: num(t.n_live_tup), deadRows: num(t.n_dead_tup), totalBytes: num(t.total), indexBytes: num(t.idx), rowWrites: num(t.writes), rowInserts: num(t.inserts) }));
  const indexes = await db.query(
    `SELECT s.schemaname || '.' || s.relname AS t, s.indexrelname AS name, s.idx_scan AS scans, pg_relation_size(s.indexrelid) AS bytes,
            x.indisunique AS uniq, x.indisprimary AS pk, x.indpred IS NOT NULL AS partial,
            array(SELECT pg_get_indexdef(x.indexrelid, k, true) FROM generate_series(1, x.indnkeyatts) k) AS cols
       FROM pg_stat_user_indexes s JOIN pg_index x ON x.indexrelid = s.indexrelid
      WHERE x.indisvalid ORDER BY s.schemaname, s.relname, s.indexrelname`,
  );
  report.indexes = indexes.rows.map((i) => ({ table: String(i.t), name: String(i.name), columns: (i.cols as string[]).map(String), scans: num(i.scans), bytes: num(i.bytes), unique: Boolean(i.uniq), primary: Boolean(i.pk), partial: Boolean(i.partial) }));

  const cache = (await db.query('SELECT blks_hit, blks_read, stats_reset FROM pg_stat_database WHERE datname = current_database()')).rows[0];
  if (cache?.stats_reset) report.statsReset = new Date(cache.stats_reset as string).toISOString();
  if (cache && num(cache.blks_hit) + num(cache.blks_read) > 0) report.cacheHitRatio = num(cache.blks_hit) / (num(cache.blks_hit) + num(cache.blks_read));

  const conns = await db.query("SELECT coalesce(state, 'background') AS state, count(*) AS n, count(*) FILTER (WHERE wait_event_type = 'Lock') AS locked FROM pg_stat_activity WHERE datname = current_database() GROUP BY 1");
  for (const c of conns.rows) {
    report.connections.byState[String(c.state)] = num(c.n);
    report.connections.waitingOnLocks += num(c.locked);
  }

  const locks = await db.query('SELECT mode, granted, count(*) AS n FROM pg_locks WHERE database = (SELECT oid FROM pg_database WHERE datname = current_database()) GROUP BY mode, granted ORDER BY mode');
  report.locks = locks.rows.map((l) => ({ mode: String(l.mode), granted: Boolean(l.granted), count: num(l.n) }));

  const recovery = (await db.query('SELECT pg_is_in_recovery() AS r')).rows[0].r === true;
  if (recovery) {
    const lag = (await db.query('SELECT extract(epoch FROM now() - pg_last_xact_replay_timestamp()) AS s')).rows[0];
    report.replication.push({ name: 'self (replica)', state: 'streaming', lagBytes: undefined, lagSeconds: lag.s === null ? undefined : num(lag.s) });
  } else {
    try {
      const reps = await db.query('SELECT application_name AS name, state, pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) AS bytes, extract(epoch FROM replay_lag) AS s FROM pg_stat_replication');
      for (const r of reps.rows) report.replication.push({ name: String(r.name || 'replica'), state: String(r.state), lagBytes: r.bytes === null ? undefined : num(r.bytes), lagSeconds: r.s === null ? undefined : num(r.s) });
    } catch (e) {
      notes.push(`replication status not readable: ${(e as Error).message}`);
    }
  }
  const pg = options.replicas?.length ? (await import('pg')).default : undefined;
  for (const url of options.replicas ?? []) {
    const c = new pg!.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
    const name = safeName(url);
    try {
      await c.connect();
      const lag = (await c.query('SELECT pg_is_in_recovery() AS r, extract(epoch FROM now() - pg_last_xact_replay_timestamp()) AS s')).rows[0];
      report.replication.push({ name, state: lag.r ? 'streaming' : 'not in recovery', lagBytes: undefined, lagSeconds: lag.s === null ? undefined : num(lag.s) });
    } catch (e) {
      notes.push(`replica ${name} not reachable: ${(e as Error).message}`);
    } finally {
      await c.end().catch(() => {});
    }
  }
  return report;
}

function safeName(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || 5432}${u.pathname}`;
  } catch {
    return 'replica';
  }
}

/** Records a report as gauges (names after the OpenTelemetry Collector's postgresql receiver). */
export function recordPostgres(report: PostgresReport, recorder: Recorder): void {
  const g = (name: string, unit: string, value: number | undefined, attrs: Record<string, string> = {}) => {
    if (value !== undefined && Number.isFinite(value)) recorder.gauge(name, { unit }).record(value, { 'db.namespace': report.database, ...attrs });
  };
  g('postgresql.database.size', 'By', report.databaseBytes);
  g('postgresql.cache.hit_ratio', '1', report.cacheHitRatio);
  for (const [state, n] of Object.entries(report.connections.byState)) g('postgresql.connection.count', '{connection}', n, { state });
  g('postgresql.connection.max', '{connection}', report.connections.max);
  g('postgresql.connection.lock_waits', '{connection}', report.connections.waitingOnLocks);
  for (const l of report.locks) g('postgresql.locks', '{lock}', l.count, { mode: l.mode, granted: String(l.granted) });
  for (const t of report.tables) {
    g('postgresql.table.size', 'By', t.totalBytes, { table: t.table });
    g('postgresql.table.rows', '{row}', t.liveRows, { table: t.table, state: 'live' });
    g('postgresql.table.rows', '{row}', t.deadRows, { table: t.table, state: 'dead' });
    g('postgresql.table.scans', '{scan}', t.seqScans, { table: t.table, type: 'seq' });
    g('postgresql.table.scans', '{scan}', t.indexScans, { table: t.table, type: 'index' });
  }
  for (const s of report.topStatements) {
    g('postgresql.statement.mean_time', 'ms', s.meanMs, { 'db.query.text': s.query });
    g('postgresql.statement.calls', '{call}', s.calls, { 'db.query.text': s.query });
  }
  for (const r of report.replication) g('postgresql.replication.lag', 's', r.lagSeconds, { replica: r.name });
}
