// Missing indexes, measured by the planner: for each slow (or frequent: a tenth of database time)
// statement that filters a table it scans sequentially, a candidate index (equality columns first,
// then the ORDER BY column; and a covering variant with the other returned columns as INCLUDE,
// chosen when its index-only scan is at least 10% cheaper) is created inside a transaction that is
// always rolled back, and the statement's generic plan is costed with and without it. Only
// candidates that cut the plan's cost by at least `minCostCut` are reported, ranked by the
// database time they would save (the statement's time × the cost cut). With HypoPG (Debian
// postgresql-15-hypopg) the candidate is hypothetical: nothing is built, any table size; the
// extension is created inside the same rolled-back transaction if it is not there, so the database
// is left as it was. Without it, tables above `maxTableBytes` are not tried (the trial index is
// built for real, then thrown away). Tables with more rows written than scanned are skipped: every
// write would pay for the index (Dexter does not look).
import { fingerprint } from '../instrument/sql.js';
import type { Analyzer, Inputs } from './types.js';

type Db = Inputs['database'];

/** Columns compared with = to a parameter or constant, and the first ORDER BY column. */
export function candidateColumns(sql: string): { equal: string[]; order: string | undefined } {
  const where = /\bWHERE\b([\s\S]*?)(?:\bORDER\s+BY\b|\bGROUP\s+BY\b|\bLIMIT\b|$)/i.exec(sql)?.[1] ?? '';
  const equal = [...where.matchAll(/(?:^|[\s(])(?:\w+\.)?([a-z_][a-z0-9_]*)\s*=\s*(?:\$\d+|\?|'[^']*'|\d+)/gi)].map((m) => m[1].toLowerCase());
  const order = /\bORDER\s+BY\s+(?:\w+\.)?([a-z_][a-z0-9_]*)/i.exec(sql)?.[1]?.toLowerCase();
  return { equal: [...new Set(equal)], order };
}

async function planCost(db: Db, sql: string): Promise<number> {
  const params = new Set([...sql.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])));
  const n = params.size ? Math.max(...params) : 0;
  await db.query('DEALLOCATE ALL');
  await db.query(`PREPARE solemate_probe AS ${sql}`);
  // a generic plan does not depend on the (NULL) values; PostgreSQL 16 has EXPLAIN (GENERIC_PLAN) for this
  const r = await db.query(`EXPLAIN (FORMAT JSON) EXECUTE solemate_probe${n ? `(${Array(n).fill('NULL').join(', ')})` : ''}`);
  await db.query('DEALLOCATE solemate_probe');
  const plan = r.rows[0]['QUERY PLAN'] as { Plan: { 'Total Cost': number } }[] | string;
  return (typeof plan === 'string' ? JSON.parse(plan) : plan)[0].Plan['Total Cost'];
}

/** The plain columns a single-table SELECT returns (undefined for *, expressions or several tables). */
export function selectedColumns(sql: string): string[] | undefined {
  const list = /^\s*SELECT\s+([\s\S]*?)\s+FROM\s+\w+(?:\s+(?:AS\s+)?\w+)?\s+(?:WHERE|ORDER|LIMIT|$)/i.exec(sql)?.[1];
  if (!list || /\bJOIN\b/i.test(sql)) return undefined;
  const cols = list.split(',').map((c) => /^\s*(?:\w+\.)?([a-z_][a-z0-9_]*)(?:\s+AS\s+\w+)?\s*$/i.exec(c)?.[1]?.toLowerCase());
  return cols.every((c): c is string => c !== undefined) ? cols : undefined;
}

/** Whether HypoPG can be used here (installed, or available to create inside the transaction). */
async function hypopgAvailable(db: Db): Promise<boolean> {
  const r = await db.query("SELECT 1 FROM pg_available_extensions WHERE name = 'hypopg'");
  return r.rows.length > 0;
}

export const missingIndex: Analyzer<{ minMeanMs: number; minShare: number; minCostCut: number; maxTableBytes: number; maxWritesPerRowRead: number; hypopg: boolean }> = {
  meta: { id: 'missing-index', title: 'Missing indexes', description: 'Slow statements whose table is scanned sequentially, with an index the planner would use, costed with and without it.', requires: ['postgres', 'database'] },
  defaults: {
    minMeanMs: { value: 10, source: 'the slow-queries analyzer: a twentieth of the 200 ms response budget' },
    minShare: { value: 0.1, source: 'a tenth of all database time: a statement that fast but that frequent is worth an index (halving it saves 5%)' },
    minCostCut: { value: 0.5, source: 'a plan at least twice as cheap: below that an index rarely pays for its write overhead' },
    maxTableBytes: { value: 500 * 1024 * 1024, source: 'without HypoPG the trial index is built for real inside the rolled-back transaction; above 500 MB that takes too long to do in an analysis' },
    maxWritesPerRowRead: { value: 1, source: 'an index costs every insert, update and delete of its table (and HOT updates on its columns); when more rows are written than the sequential scans read, that maintenance outweighs the cheaper reads' },
    hypopg: { value: true, source: 'hypothetical indexes when the extension is available (nothing built)' },
  },
  async analyze(inputs, o) {
    const pgr = inputs.postgres!;
    const db = inputs.database!;
    if (!pgr.statementsAvailable) return { notApplicable: pgr.notes[0] ?? 'pg_stat_statements is not available' };
    const tables = new Map(pgr.tables.map((t) => [t.table.replace(/^public\./, ''), t]));
    const total = pgr.statementsTotalMs || pgr.topStatements.reduce((s, x) => s + x.totalMs, 0);
    const findings = [];
    const hypo = o.hypopg && (await hypopgAvailable(db));
    for (const s of pgr.topStatements) {
      const share = total > 0 ? s.totalMs / total : 0;
      if ((s.meanMs < o.minMeanMs && (share < o.minShare || s.meanMs < 1)) || !/^SELECT\b/i.test(s.query) || /\bpg_\w+/i.test(s.query)) continue;
      const table = fingerprint(s.query).collection?.replace(/^public\./, '');
      const t = table ? tables.get(table) : undefined;
      if (!table || !t || t.seqScans === 0 || (!hypo && t.totalBytes > o.maxTableBytes)) continue;
      if (t.rowWrites > o.maxWritesPerRowRead * t.seqRowsRead) continue;
      const { equal, order } = candidateColumns(s.query);
      // only real columns of the table (ORDER BY may name an alias, a filter may be on a joined table)
      const real = new Set((await db.query('SELECT column_name FROM information_schema.columns WHERE table_name = $1', [table])).rows.map((r) => String(r.column_name)));
      const columns = [...equal, ...(order && !equal.includes(order) ? [order] : [])].filter((c) => real.has(c));
      if (columns.length === 0) continue;
      // a covering variant: the other returned columns as INCLUDE, for an index-only scan
      const include = (selectedColumns(s.query) ?? []).filter((c) => real.has(c) && !columns.includes(c));
      let before: number;
      let after: number;
      let afterCovering = Infinity;
      await db.query('BEGIN');
      try {
        await db.query("SET LOCAL plan_cache_mode = 'force_generic_plan'");
        before = await planCost(db, s.query);
        const trial = async (name: string, inc: string[]) => {
          const create = `CREATE INDEX ${name} ON ${table} (${columns.map((c) => `"${c}"`).join(', ')})${inc.length ? ` INCLUDE (${inc.map((c) => `"${c}"`).join(', ')})` : ''}`;
          if (hypo) {
            await db.query('CREATE EXTENSION IF NOT EXISTS hypopg');
            await db.query('SELECT hypopg_reset()');
            await db.query('SELECT hypopg_create_index($1)', [create]);
          } else await db.query(create);
          return planCost(db, s.query);
        };
        after = await trial('solemate_trial', []);
        if (include.length > 0 && include.length <= 3) {
          if (!hypo) await db.query('DROP INDEX solemate_trial');
          afterCovering = await trial('solemate_trial_covering', include);
        }
      } catch {
        // a statement the probe cannot prepare (types it cannot infer from NULLs): no candidate for it
        continue;
      } finally {
        if (hypo) await db.query('SELECT hypopg_reset()').catch(() => {});
        await db.query('ROLLBACK').catch(() => {});
      }
      // the covering index only when the index-only scan is clearly cheaper (it is larger and costs writes)
      const covering = afterCovering < 0.9 * after;
      if (covering) after = afterCovering;
      const ddl = `CREATE INDEX CONCURRENTLY ON ${table} (${columns.join(', ')})${covering ? ` INCLUDE (${include.join(', ')})` : ''}`;
      const cut = before > 0 ? 1 - after / before : 0;
      if (cut < o.minCostCut) continue;
      const savedShare = total > 0 ? (s.totalMs / total) * cut : 0;
      findings.push({
        severity: (cut >= 0.9 && s.meanMs >= 5 * o.minMeanMs ? 'critical' : 'warning') as 'critical' | 'warning',
        title: `index ${table} (${columns.join(', ')})${covering ? ` INCLUDE (${include.join(', ')})` : ''}: plan ${Math.round(cut * 100)}% cheaper for a ${s.meanMs.toFixed(1)} ms query`,
        target: { table, statement: s.query, index: ddl, columns: columns.join(','), ...(covering ? { include: include.join(',') } : {}) },
        evidence: {
          headings: [
            { key: 'ddl', label: 'candidate' },
            { key: 'before', label: 'plan cost without' },
            { key: 'after', label: 'plan cost with' },
            { key: 'calls', label: 'calls' },
            { key: 'mean', label: 'mean (ms)' },
            { key: 'seq', label: 'sequential scans' },
            { key: 'writes', label: 'row writes' },
            { key: 'how', label: 'costed with' },
          ],
          rows: [{ ddl, before: Math.round(before), after: Math.round(after), calls: s.calls, mean: Number(s.meanMs.toFixed(2)), seq: t.seqScans, writes: t.rowWrites, how: hypo ? 'HypoPG hypothetical index' : 'trial index, rolled back' }],
        },
        impact: { metric: 'database time', estimate: Number((savedShare * 100).toFixed(1)), unit: '%', derivedFrom: `the statement's ${Math.round(s.totalMs)} ms of ${Math.round(total)} ms in pg_stat_statements × the planner's cost cut (${Math.round(before)} → ${Math.round(after)}) with ${hypo ? 'a HypoPG hypothetical index' : 'the index built in a rolled-back transaction'}` },
      });
    }
    return findings.sort((a, b) => b.impact.estimate - a.impact.estimate);
  },
};
