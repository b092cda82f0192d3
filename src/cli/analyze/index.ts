// solemate-perf analyze: runs the analyzers over the stored data and prints the findings, ranked.
import { loadConfig } from '../../config/load.js';
import type { PerformanceConfigInput } from '../../config/schema.js';
import { PerfError } from '../../errors.js';
import { runAnalyzers, storeCollector } from '../../analyzers/runner.js';
import { collectPostgres } from '../../collectors/postgres.js';
import { collectSite } from '../../analyzers/site.js';
import { checkTarget } from '../../loadtest/targets.js';
import { parseDuration } from '../../query/filters.js';
import { QueryEngine } from '../../query/engine.js';
import { openStore } from '../../store/open.js';
import type { Command, CommandSpec, Io } from '../command.js';

export function build(): CommandSpec {
  return {
    name: 'analyze',
    summary: 'Find what makes the service slow: analyzers over the stored metrics and traces, findings ranked with evidence.',
    usage: 'solemate-perf analyze [--window 15m] [--data FILE | --config FILE] [--database-url URL] [--site URL] [--json]',
    options: { window: { type: 'string', short: 'w' }, data: { type: 'string' }, config: { type: 'string' }, 'database-url': { type: 'string' }, site: { type: 'string' }, 'allow-host': { type: 'string', multiple: true } },
    help: { window: 'how far back to look (default 15m)', data: 'SQLite file of the embedded store (default .data/solemate-perf.db)', config: 'config file (the store to read)', 'database-url': "the service's PostgreSQL, for the database analyzers (default $DATABASE_URL)", site: 'a page of the service (e.g. http://127.0.0.1:3000/), for the front-end analyzers; loopback unless allowed', 'allow-host': 'also fetch from this non-loopback host' },
  };
}

export async function run(values: Record<string, unknown>, _pos: string[], io: Io): Promise<number> {
  let windowMs: number;
  try {
    windowMs = parseDuration(String(values.window ?? '15m'));
  } catch (e) {
    throw new PerfError('PERF_ERR_USAGE', `--window: ${(e as Error).message}`);
  }
  const overrides: PerformanceConfigInput = values.data ? { store: { path: String(values.data) } } : {};
  const config = loadConfig({ file: values.config as string | undefined, env: io.env, overrides });
  const store = await openStore(config);
  try {
    const dbUrl = (values['database-url'] as string | undefined) ?? io.env.DATABASE_URL;
    let client: { end(): Promise<void> } | undefined;
    const connect = async () => {
      const { default: pg } = await import('pg');
      const c = new pg.Client({ connectionString: dbUrl, connectionTimeoutMillis: 5000 });
      await c.connect();
      client = c;
      return c;
    };
    let connecting: ReturnType<typeof connect> | undefined;
    const db = () => (connecting ??= connect());
    const site = values.site === undefined ? undefined : checkTarget(String(values.site), [...config.loadtest.allowedHosts, ...((values['allow-host'] as string[] | undefined) ?? [])]).toString();
    const results = await runAnalyzers({ ...storeCollector(new QueryEngine(store, config), store, windowMs), ...(dbUrl ? { postgres: async () => collectPostgres(await db()), database: db } : {}), ...(site ? { site: () => collectSite(site) } : {}) }).finally(() => client?.end());
    if (values.json) {
      io.out(JSON.stringify(results, null, 2));
      return 0;
    }
    const findings = results.flatMap((r) => r.findings.map((f) => ({ analyzer: r.id, ...f }))).sort((a, b) => (a.severity === b.severity ? b.impact.estimate - a.impact.estimate : a.severity === 'critical' ? -1 : b.severity === 'critical' ? 1 : a.severity === 'warning' ? -1 : 1));
    if (findings.length === 0) io.out('no findings');
    for (const f of findings) io.out(`${f.severity.padEnd(8)} ${f.title}  [${f.analyzer}]\n         impact: ${f.impact.estimate} ${f.impact.unit} ${f.impact.metric} — ${f.impact.derivedFrom}`);
    for (const r of results) if (r.status === 'not_applicable' || r.status === 'error') io.err(`${r.id}: ${r.status === 'error' ? 'error: ' : ''}${r.reason}`);
    return 0;
  } finally {
    await store.close();
  }
}

export default { build, run } satisfies Command;
