// Partitioning (FR-2.6): a large, append-mostly table that hot statements read by a time range
// → range partitions on that column, so those statements read only the recent partitions and old
// data can be detached instead of deleted.
import { fingerprint } from '../instrument/sql.js';
import type { Analyzer, Finding } from './types.js';

export const partitioning: Analyzer<{ minBytes: number; appendShare: number }> = {
  meta: { id: 'partitioning', title: 'Table partitioning', description: 'A large append-mostly table read by time ranges: partition it by that column.', requires: ['postgres', 'database'] },
  defaults: {
    minBytes: { value: 10 * 1024 ** 3, source: 'the PostgreSQL documentation: partitioning pays when a table exceeds the memory of the server; 10 GiB is a common rule of thumb' },
    appendShare: { value: 0.9, source: 'nine in ten writes are inserts: rows are added, rarely changed (logs, orders, events)' },
  },
  async analyze(inputs, o) {
    const pgr = inputs.postgres!;
    const db = inputs.database!;
    const findings: Finding[] = [];
    for (const t of pgr.tables) {
      if (t.totalBytes < o.minBytes || t.rowWrites === 0 || t.rowInserts / t.rowWrites < o.appendShare) continue;
      const [schema, table] = t.table.split('.');
      const cols = (await db.query("SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 AND data_type IN ('timestamp with time zone', 'timestamp without time zone', 'date')", [schema, table])).rows.map((r) => String(r.column_name));
      if (cols.length === 0) continue;
      const ranged = pgr.topStatements.filter((s) => fingerprint(s.query).collection?.replace(/^public\./, '') === table && cols.some((c) => new RegExp(`\\b${c}\\s*(>=?|<=?|BETWEEN)`, 'i').test(s.query)));
      if (ranged.length === 0) continue;
      const col = cols.find((c) => ranged.some((s) => new RegExp(`\\b${c}\\s*(>=?|<=?|BETWEEN)`, 'i').test(s.query)))!;
      const ms = ranged.reduce((s, x) => s + x.totalMs, 0);
      findings.push({
        severity: 'warning',
        title: `partition ${t.table} by range of ${col} (${(t.totalBytes / 1024 ** 3).toFixed(1)} GiB, ${Math.round((t.rowInserts / t.rowWrites) * 100)}% inserts)`,
        target: { table: t.table, column: col },
        evidence: { headings: [{ key: 'statement', label: 'statements reading a range' }, { key: 'calls', label: 'calls' }, { key: 'mean', label: 'mean (ms)' }], rows: ranged.map((s) => ({ statement: s.query.slice(0, 120), calls: s.calls, mean: Number(s.meanMs.toFixed(1)) })) },
        impact: { metric: 'database time', estimate: pgr.statementsTotalMs > 0 ? Number(((ms / pgr.statementsTotalMs) * 100).toFixed(1)) : 0, unit: '%', derivedFrom: `the range statements' share of execution time in pg_stat_statements (the part partition pruning can cut); plan: CREATE TABLE … PARTITION BY RANGE (${col}) with monthly partitions, rows moved in batches` },
      });
    }
    return findings;
  },
};
