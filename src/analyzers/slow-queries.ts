// Slow queries from pg_stat_statements: statements whose mean is high (and that take at least a
// twentieth of the database time), or that take a large share of the database's execution time,
// with the sequential scans on their table as evidence (the usual sign of a missing index). Either
// way the statement must also load the database: a share of an idle database's time is no case.
// Statements about the database's own catalog (our collector's) are skipped.
import { fingerprint } from '../instrument/sql.js';
import type { Analyzer } from './types.js';

const CATALOG = /\b(pg_stat|pg_catalog|pg_extension|pg_database|pg_locks|pg_is_in_recovery|current_setting|pg_last_xact)\w*/i;
const UTILITY = /^(BEGIN|COMMIT|ROLLBACK|SET|SHOW|CREATE|ALTER|DROP|ANALYZE|VACUUM)\b/i;

export const slowQueries: Analyzer<{ meanMs: number; meanMinShare: number; share: number; shareMinMeanMs: number; minCalls: number; minLoad: number }> = {
  meta: { id: 'slow-queries', title: 'Slow queries', description: 'Statements that are slow on average or take a large share of the database time (pg_stat_statements), with the sequential scans on their table.', requires: ['postgres'] },
  defaults: {
    meanMs: { value: 10, source: "a twentieth of the PRD's 200 ms response budget: a page that runs 20 queries can afford no more each" },
    meanMinShare: { value: 0.05, source: "the optimizer's resolution: a before/after load test cannot tell a change smaller than its run-to-run noise (about 5% here) from none, so a slow statement with less of the database time is not worth a change" },
    share: { value: 0.3, source: 'a third of all database time in one statement: the Pareto cut for where tuning pays' },
    shareMinMeanMs: { value: 1, source: 'below 1 ms a statement is as fast as a query gets; its share comes from its call count (see n-plus-one)' },
    minCalls: { value: 10, source: 'fewer calls are one-off queries (migrations, reports)' },
    minLoad: { value: 0.05, source: "the same 5% resolution against the database's capacity rather than its busy time: the statement's execution time over the time since pg_stat_statements began counting (average active sessions, as Amazon RDS Performance Insights measures load) — under a twentieth of one backend, removing the statement entirely frees less than the optimizer can measure" },
  },
  async analyze(inputs, o) {
    const pgr = inputs.postgres!;
    if (!pgr.statementsAvailable) return { notApplicable: pgr.notes[0] ?? 'pg_stat_statements is not available' };
    const total = pgr.statementsTotalMs || pgr.topStatements.reduce((s, x) => s + x.totalMs, 0);
    const tables = new Map(pgr.tables.map((t) => [t.table.replace(/^public\./, ''), t]));
    // the time base: since pg_stat_statements began counting (PostgreSQL 14+); without it, no load floor
    const seconds = pgr.statementsSince ? (Date.parse(pgr.at) - Date.parse(pgr.statementsSince)) / 1000 : undefined;
    const load = (s: { totalMs: number }) => (seconds && seconds > 0 ? s.totalMs / 1000 / seconds : undefined);
    return pgr.topStatements
      .filter((s) => !CATALOG.test(s.query) && !UTILITY.test(s.query) && s.calls >= o.minCalls)
      .map((s) => ({ s, share: total > 0 ? s.totalMs / total : 0, load: load(s) }))
      .filter(({ s, share }) => (s.meanMs >= o.meanMs && share >= o.meanMinShare) || (share >= o.share && s.meanMs >= o.shareMinMeanMs))
      .filter(({ load }) => load === undefined || load >= o.minLoad)
      .sort((a, b) => b.share - a.share)
      .map(({ s, share, load }) => {
        const table = fingerprint(s.query).collection?.replace(/^public\./, '');
        const t = table ? tables.get(table) : undefined;
        const seq = t && t.seqScans > 0 && t.liveRows > 1000 ? `${t.seqScans} sequential scans of ${t.liveRows.toLocaleString()} rows (${t.indexScans} index scans)` : '—';
        return {
          severity: s.meanMs >= 5 * o.meanMs || share >= 0.5 ? 'critical' : 'warning',
          title: `${s.query.slice(0, 80)}${s.query.length > 80 ? '…' : ''}: ${s.meanMs.toFixed(1)} ms mean, ${(share * 100).toFixed(0)}% of database time`,
          target: { statement: s.query, ...(table ? { table } : {}) },
          evidence: {
            headings: [
              { key: 'calls', label: 'calls' },
              { key: 'mean', label: 'mean (ms)' },
              { key: 'total', label: 'total (ms)' },
              { key: 'load', label: 'active sessions' },
              { key: 'rows', label: 'rows' },
              { key: 'hit', label: 'buffer hit ratio' },
              { key: 'seq', label: 'table scans' },
            ],
            rows: [{ calls: s.calls, mean: Number(s.meanMs.toFixed(2)), total: Math.round(s.totalMs), load: load === undefined ? '—' : Number(load.toFixed(3)), rows: s.rows, hit: s.hitRatio === undefined ? '—' : `${(s.hitRatio * 100).toFixed(1)}%`, seq }],
          },
          impact: { metric: 'database time', estimate: Number((share * 100).toFixed(1)), unit: '%', derivedFrom: `${Math.round(s.totalMs)} ms of ${Math.round(total)} ms execution time in pg_stat_statements for ${pgr.database}${load === undefined ? '' : `; ${load.toFixed(3)} active sessions on average over the ${Math.round(seconds!)} s since ${pgr.statementsSince}`}` },
        };
      });
  },
};
