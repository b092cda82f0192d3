// Dated migrations, applied in order and recorded in the `migrations` table. Never edit one that
// has shipped: add a new one.
export interface Migration {
  id: string;
  sql: string;
}

export const SQLITE_MIGRATIONS: Migration[] = [
  {
    id: '2026-11-25-initial',
    sql: `
      CREATE TABLE series (
        id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, metric TEXT NOT NULL, kind TEXT NOT NULL,
        unit TEXT NOT NULL, description TEXT NOT NULL, service TEXT NOT NULL, instance TEXT NOT NULL,
        attributes TEXT NOT NULL);
      CREATE INDEX series_metric ON series (metric);
      CREATE TABLE points_minute (
        series_id INTEGER NOT NULL, t INTEGER NOT NULL, count REAL NOT NULL, sum REAL NOT NULL,
        min REAL NOT NULL, max REAL NOT NULL, last REAL NOT NULL, last_time INTEGER NOT NULL, hist BLOB,
        PRIMARY KEY (series_id, t)) WITHOUT ROWID;
      CREATE INDEX points_minute_t ON points_minute (t);
      CREATE TABLE points_hour (
        series_id INTEGER NOT NULL, t INTEGER NOT NULL, count REAL NOT NULL, sum REAL NOT NULL,
        min REAL NOT NULL, max REAL NOT NULL, last REAL NOT NULL, last_time INTEGER NOT NULL, hist BLOB,
        PRIMARY KEY (series_id, t)) WITHOUT ROWID;
      CREATE INDEX points_hour_t ON points_hour (t);
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);`,
  },
  {
    id: '2026-11-26-spans',
    sql: `
      CREATE TABLE spans (
        trace_id TEXT NOT NULL, span_id TEXT NOT NULL, parent_span_id TEXT, service TEXT NOT NULL,
        instance TEXT NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL, start REAL NOT NULL,
        duration REAL NOT NULL, status TEXT NOT NULL, status_message TEXT, route TEXT,
        entry INTEGER NOT NULL, attributes TEXT NOT NULL,
        PRIMARY KEY (trace_id, span_id)) WITHOUT ROWID;
      CREATE INDEX spans_entry ON spans (entry, start);
      CREATE INDEX spans_start ON spans (start);`,
  },
  {
    id: '2026-11-26-loadtest-runs',
    sql: `
      CREATE TABLE loadtest_runs (
        id TEXT PRIMARY KEY, scenario TEXT NOT NULL, profile TEXT NOT NULL, target TEXT NOT NULL,
        started_at INTEGER NOT NULL, finished_at INTEGER NOT NULL, passed INTEGER NOT NULL,
        git_revision TEXT, environment TEXT NOT NULL, result TEXT NOT NULL, samples BLOB NOT NULL);
      CREATE INDEX loadtest_runs_scenario ON loadtest_runs (scenario, profile, started_at);`,
  },
  {
    id: '2026-11-26-alerts',
    sql: `
      CREATE TABLE alerts (key TEXT PRIMARY KEY, state TEXT NOT NULL);
      CREATE TABLE alert_events (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL);
      CREATE INDEX alert_events_at ON alert_events (at);`,
  },
  {
    id: '2026-11-26-docs',
    sql: `CREATE TABLE docs (kind TEXT NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (kind, id)) WITHOUT ROWID;`,
  },
];

export const POSTGRES_MIGRATIONS: Migration[] = [
  {
    id: '2026-11-25-initial',
    sql: `
      CREATE TABLE perf_series (
        id BIGSERIAL PRIMARY KEY, key TEXT NOT NULL UNIQUE, metric TEXT NOT NULL, kind TEXT NOT NULL,
        unit TEXT NOT NULL, description TEXT NOT NULL, service TEXT NOT NULL, instance TEXT NOT NULL,
        attributes JSONB NOT NULL);
      CREATE INDEX perf_series_metric ON perf_series (metric);
      CREATE TABLE perf_points_minute (
        series_id BIGINT NOT NULL, t BIGINT NOT NULL, count DOUBLE PRECISION NOT NULL,
        sum DOUBLE PRECISION NOT NULL, min DOUBLE PRECISION NOT NULL, max DOUBLE PRECISION NOT NULL,
        last DOUBLE PRECISION NOT NULL, last_time BIGINT NOT NULL, hist BYTEA,
        PRIMARY KEY (series_id, t));
      CREATE INDEX perf_points_minute_t ON perf_points_minute (t);
      CREATE TABLE perf_points_hour (
        series_id BIGINT NOT NULL, t BIGINT NOT NULL, count DOUBLE PRECISION NOT NULL,
        sum DOUBLE PRECISION NOT NULL, min DOUBLE PRECISION NOT NULL, max DOUBLE PRECISION NOT NULL,
        last DOUBLE PRECISION NOT NULL, last_time BIGINT NOT NULL, hist BYTEA,
        PRIMARY KEY (series_id, t));
      CREATE INDEX perf_points_hour_t ON perf_points_hour (t);
      CREATE TABLE perf_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);`,
  },
  {
    id: '2026-11-26-spans',
    sql: `
      CREATE TABLE perf_spans (
        trace_id TEXT NOT NULL, span_id TEXT NOT NULL, parent_span_id TEXT, service TEXT NOT NULL,
        instance TEXT NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL, start DOUBLE PRECISION NOT NULL,
        duration DOUBLE PRECISION NOT NULL, status TEXT NOT NULL, status_message TEXT, route TEXT,
        entry BOOLEAN NOT NULL, attributes JSONB NOT NULL,
        PRIMARY KEY (trace_id, span_id));
      CREATE INDEX perf_spans_entry ON perf_spans (start) WHERE entry;
      CREATE INDEX perf_spans_start ON perf_spans (start);`,
  },
  {
    id: '2026-11-26-loadtest-runs',
    sql: `
      CREATE TABLE perf_loadtest_runs (
        id TEXT PRIMARY KEY, scenario TEXT NOT NULL, profile TEXT NOT NULL, target TEXT NOT NULL,
        started_at BIGINT NOT NULL, finished_at BIGINT NOT NULL, passed BOOLEAN NOT NULL,
        git_revision TEXT, environment JSONB NOT NULL, result JSONB NOT NULL, samples BYTEA NOT NULL);
      CREATE INDEX perf_loadtest_runs_scenario ON perf_loadtest_runs (scenario, profile, started_at);`,
  },
  {
    id: '2026-11-26-alerts',
    sql: `
      CREATE TABLE perf_alerts (key TEXT PRIMARY KEY, state JSONB NOT NULL);
      CREATE TABLE perf_alert_events (id BIGSERIAL PRIMARY KEY, at BIGINT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL, body JSONB NOT NULL);
      CREATE INDEX perf_alert_events_at ON perf_alert_events (at);`,
  },
  {
    id: '2026-11-26-docs',
    sql: `CREATE TABLE perf_docs (kind TEXT NOT NULL, id TEXT NOT NULL, body JSONB NOT NULL, PRIMARY KEY (kind, id));`,
  },
];
