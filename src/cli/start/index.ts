import { loadConfig } from '../../config/load.js';
import type { PerformanceConfigInput } from '../../config/schema.js';
import { PerfError } from '../../errors.js';
import { createServer } from '../../server/app.js';
import type { Command, CommandSpec, Io } from '../command.js';

export function build(): CommandSpec {
  return {
    name: 'start',
    summary: 'Start the performance server: OTLP ingest, query API, live events, alerting, /metrics and the dashboard on one port.',
    usage: 'solemate-perf start [--port 4318] [--host 127.0.0.1] [--data .data/solemate-perf.db] [--config file.yml] [--insecure]',
    options: { port: { type: 'string', short: 'p' }, host: { type: 'string' }, data: { type: 'string' }, config: { type: 'string', short: 'c' }, insecure: { type: 'boolean' } },
    help: {
      port: 'port to listen on (default 4318, the OTLP/HTTP port; 0 picks a free one)',
      host: 'address to bind (default 127.0.0.1); beyond loopback it needs SOLEMATE_PERF_ADMIN_TOKEN or server.adminTokenFile',
      data: 'SQLite file of the embedded store (default .data/solemate-perf.db)',
      config: 'YAML or JSON config file (default $SOLEMATE_PERF_CONFIG)',
      insecure: 'trusted network only: start beyond loopback without an admin token (server.insecure); anyone who can reach the port can change the system',
    },
  };
}

export async function run(values: Record<string, unknown>, _pos: string[], io: Io): Promise<number> {
  const overrides: PerformanceConfigInput = {};
  if (values.port !== undefined) {
    const port = Number(values.port);
    if (!Number.isInteger(port)) throw new PerfError('PERF_ERR_USAGE', `--port must be a whole number, got "${values.port}"`);
    overrides.server = { port };
  }
  if (values.host !== undefined) overrides.server = { ...overrides.server, host: String(values.host) };
  if (values.insecure) overrides.server = { ...overrides.server, insecure: true };
  if (values.data !== undefined) overrides.store = { path: String(values.data) };
  const config = loadConfig({ file: values.config as string | undefined, env: io.env, overrides });
  let server;
  try {
    server = await createServer({ config, env: io.env, logLevel: 'warn', onWarning: (m) => io.err(`solemate-perf start: warning: ${m}`) });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new PerfError('PERF_ERR_USAGE', `port ${config.server.port} is in use; pass --port 0 for a free one or stop the other process`);
    if (e instanceof PerfError) throw e;
    throw new PerfError('PERF_ERR_STORE', `cannot start: ${(e as Error).message}`);
  }
  const where = config.store.kind === 'sqlite' ? config.store.path : 'PostgreSQL';
  if (values.json) io.out(JSON.stringify({ url: server.url, port: server.port, store: config.store.kind, data: where, ...(server.warnings.length ? { warnings: server.warnings } : {}) }));
  else {
    const alerting = server.alerts ? `${server.alerts.rules.length} alert rules${Object.keys(server.alerts.ruleErrors).length ? ` (${Object.keys(server.alerts.ruleErrors).length} rule files with errors: GET /api/alerts)` : ''}` : 'alerting off';
    io.out(`SoleMate Performance listening on ${server.url}  (store: ${config.store.kind}, ${where}; ${alerting})\n  dashboard    ${server.url}/\n  OTLP ingest  ${server.url}/v1/metrics  ${server.url}/v1/traces\n  query API    ${server.url}/api/metrics  /api/traces  /api/alerts  /api/slos  /api/optimizations  (docs/api.md)\n  Prometheus   ${server.url}/metrics\nCtrl-C stops it.`);
  }
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await server.close();
  return 0;
}

export default { build, run } satisfies Command;
