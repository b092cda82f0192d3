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
];
