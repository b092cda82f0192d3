// Read replicas (FR-2.5): a database that is busy (average active sessions from pg_stat_statements'
// execution time) mostly with reads can hand those reads to a streaming replica.
import type { Analyzer } from './types.js';

export const readReplicas: Analyzer<{ readShare: number; minActiveSessions: number }> = {
  meta: { id: 'read-replicas', title: 'Read-replica routing', description: 'The database is busy and most of its time goes to reads: a replica could take them.', requires: ['postgres'] },
  defaults: {
    readShare: { value: 0.8, source: 'four fifths of the execution time in reads: a replica would halve the primary’s load or better' },
    minActiveSessions: { value: 1, source: 'Amazon RDS Performance Insights: average active sessions near the vCPU count means the database is the bottleneck; one full session is a core spent' },
  },
  async analyze(inputs, o) {
    const pgr = inputs.postgres!;
    if (!pgr.statementsAvailable || !pgr.statementsSince) return { notApplicable: pgr.statementsAvailable ? 'pg_stat_statements_info (PostgreSQL 14+) is needed for the time base' : (pgr.notes[0] ?? 'pg_stat_statements is not available') };
    const seconds = (Date.parse(pgr.at) - Date.parse(pgr.statementsSince)) / 1000;
    if (seconds <= 0 || pgr.statementsTotalMs <= 0) return [];
    const aas = pgr.statementsTotalMs / 1000 / seconds;
    const share = pgr.statementsReadMs / pgr.statementsTotalMs;
    if (aas < o.minActiveSessions || share < o.readShare) return [];
    return [
      {
        severity: pgr.replication.length ? 'info' : 'warning',
        title: `${pgr.database}: ${aas.toFixed(1)} active sessions on average, ${Math.round(share * 100)}% of the time in reads${pgr.replication.length ? ` (${pgr.replication.length} replica(s) exist: route reads to them)` : ''}`,
        target: { database: pgr.database },
        evidence: { headings: [{ key: 'aas', label: 'average active sessions' }, { key: 'reads', label: 'read share' }, { key: 'replicas', label: 'replicas' }], rows: [{ aas: Number(aas.toFixed(2)), reads: `${Math.round(share * 100)}%`, replicas: pgr.replication.length }] },
        impact: { metric: 'primary load', estimate: Math.round(share * 100), unit: '%', derivedFrom: `SELECT execution time / all execution time in pg_stat_statements over the ${Math.round(seconds)} s since ${pgr.statementsSince}` },
      },
    ];
  },
};
