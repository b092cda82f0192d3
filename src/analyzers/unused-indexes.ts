// Unused and duplicate indexes: indexes no scan has used since the statistics were reset, and
// indexes whose columns lead another index on the same table. Both cost every write and buffer
// space. Unique, primary-key and partial indexes are left alone (they enforce or select rows).
import type { Analyzer, Finding } from './types.js';

export const unusedIndexes: Analyzer<{ minBytes: number }> = {
  meta: { id: 'unused-indexes', title: 'Unused and duplicate indexes', description: 'Indexes no query has used, or that another index already covers: they slow every write.', requires: ['postgres'] },
  defaults: { minBytes: { value: 1024 * 1024, source: 'below a megabyte an index costs too little to be worth a change' } },
  async analyze(inputs, o) {
    const pgr = inputs.postgres!;
    const candidates = pgr.indexes.filter((i) => !i.unique && !i.primary && !i.partial);
    const findings: Finding[] = [];
    const since = pgr.statsReset ? `since the statistics were reset (${pgr.statsReset})` : 'since the statistics began (never reset)';
    for (const i of candidates) {
      const cover = pgr.indexes.find((j) => j !== i && j.table === i.table && j.columns.length > i.columns.length && i.columns.every((c, k) => j.columns[k] === c));
      const writes = pgr.tables.find((t) => t.table === i.table)?.rowWrites ?? 0;
      if (cover) {
        findings.push({
          severity: 'warning',
          title: `index ${i.name} (${i.columns.join(', ')}) is covered by ${cover.name} (${cover.columns.join(', ')})`,
          target: { table: i.table, index: i.name, kind: 'duplicate' },
          evidence: { headings: [{ key: 'index', label: 'index' }, { key: 'cover', label: 'covered by' }, { key: 'mib', label: 'MiB' }, { key: 'scans', label: 'scans' }], rows: [{ index: i.name, cover: cover.name, mib: Number((i.bytes / 1048576).toFixed(1)), scans: i.scans }] },
          impact: { metric: 'index size', estimate: Number((i.bytes / 1048576).toFixed(1)), unit: 'MiB', derivedFrom: `pg_relation_size of ${i.name}; ${writes.toLocaleString()} row writes to ${i.table} maintained it ${since}` },
        });
      } else if (i.scans === 0 && i.bytes >= o.minBytes) {
        findings.push({
          severity: 'info',
          title: `index ${i.name} on ${i.table} has never been scanned (${(i.bytes / 1048576).toFixed(1)} MiB)`,
          target: { table: i.table, index: i.name, kind: 'unused' },
          evidence: { headings: [{ key: 'index', label: 'index' }, { key: 'columns', label: 'columns' }, { key: 'mib', label: 'MiB' }, { key: 'writes', label: 'row writes to the table' }], rows: [{ index: i.name, columns: i.columns.join(', '), mib: Number((i.bytes / 1048576).toFixed(1)), writes }] },
          impact: { metric: 'index size', estimate: Number((i.bytes / 1048576).toFixed(1)), unit: 'MiB', derivedFrom: `pg_stat_user_indexes.idx_scan = 0 ${since} on this server (replicas keep their own counts: check them before dropping)` },
        });
      }
    }
    return findings;
  },
};
