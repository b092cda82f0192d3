// The performance server: one port for OTLP ingest, the query API, live events, /metrics, /healthz
// and the dashboard. createServer accepts port 0 and returns what tests need: { url, port, close, store }.
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import type { PerformanceConfig } from '../config/schema.js';
import { PerfError } from '../errors.js';
import { QueryEngine } from '../query/engine.js';
import { openStore } from '../store/open.js';
import { startOptimizerSchedule, type OptimizerSchedule } from '../optimize/schedule.js';
import type { Store } from '../store/store.js';
import { apiRoutes } from './api.js';
import { alertRoutes, loadNotificationState } from './alerts.js';
import { AlertEvaluator, type CycleResult } from '../alerts/evaluator.js';
import { DEFAULT_RULES, thresholdContext } from '../alerts/rules.js';
import { Dispatcher } from '../alerts/dispatcher.js';
import { fingerprint, parseChannel } from '../alerts/channels.js';
import { DEFAULT_SLOS } from '../alerts/slo.js';
import { UptimeMonitor } from '../alerts/uptime.js';
import { ingestRoutes, newIngestStats, type IngestStats } from './ingest.js';
import { formatLabels, PrometheusView } from './prometheus.js';
import { accessFrom, installAuth } from './auth.js';
import { checkExposure } from './exposure.js';
import { dashboardRoutes } from './dashboard.js';
import { EventHub, eventRoutes, relayThroughPostgres } from './events.js';
import { optimizationRoutes } from './optimizations.js';
import { viewRoutes } from './views.js';
import { RumIngest, rumRoutes } from './rum.js';
import { LighthouseSchedule, lighthouseRoutes } from './lighthouse.js';
import { loadDashboards } from '../dashboards/dashboards.js';

/** Rollup and retention run this often; hours are rolled once they ended 5 minutes ago. */
const MAINTENANCE_MS = 60_000;
const OPENAPI = new URL('../../docs/openapi.json', import.meta.url);

export interface ServerOptions {
  config: PerformanceConfig;
  /** an open, migrated store; by default the configured one is opened (and closed with the server) */
  store?: Store;
  clock?: () => number;
  logLevel?: 'silent' | 'error' | 'warn' | 'info' | 'debug';
  /** environment for secrets (tokens); default process.env */
  env?: NodeJS.ProcessEnv;
  /** folder of dashboard definitions (default performance/dashboards) */
  dashboards?: string;
  /** where start-up warnings go (server.insecure); default the server's logger, or process.emitWarning when it is silent */
  onWarning?: (message: string) => void;
}

export interface PerformanceServer {
  app: FastifyInstance;
  url: string;
  port: number;
  store: Store;
  engine: QueryEngine;
  stats: IngestStats;
  /** runs rollup + retention now (also on a timer) */
  maintain(): Promise<void>;
  /** undefined when alerting.enabled is false */
  alerts: AlertEvaluator | undefined;
  /** notifications: grouping, silences, inhibition, deliveries (undefined when alerting is off) */
  dispatcher: Dispatcher | undefined;
  /** one alert evaluation cycle now (also every monitoring.interval) */
  evaluateAlerts(): Promise<CycleResult | undefined>;
  /** live events (GET /api/stream) */
  hub: EventHub;
  /** the scheduled optimizer (optimization.enabled + autoOptimize), else undefined */
  optimizer: OptimizerSchedule | undefined;
  /** real-user beacons: counts by result, and flush() to store what is merged now (also every rum.flushSeconds) */
  rum: RumIngest;
  /** lab.lighthouse: the scheduled Lighthouse runs (runNow() measures the configured pages now) */
  lab: LighthouseSchedule;
  /** start-up warnings, also sent to onWarning (e.g. listening beyond loopback with server.insecure) */
  warnings: string[];
  close(): Promise<void>;
}

export async function buildApp(options: ServerOptions & { store: Store }): Promise<{ app: FastifyInstance; engine: QueryEngine; stats: IngestStats; alerts: AlertEvaluator | undefined; dispatcher: Dispatcher | undefined; uptime: UptimeMonitor | undefined; hub: EventHub; rum: RumIngest }> {
  const { config, store } = options;
  const clock = options.clock ?? Date.now;
  const engine = new QueryEngine(store, config, clock);
  const view = new PrometheusView();
  const stats = newIngestStats();
  const env = options.env ?? process.env;
  const access = accessFrom(config, env);
  const hub = new EventHub();
  // dashboard definitions are read once: a broken file fails the start, like a bad config
  const dashboards = loadDashboards(options.dashboards);
  const app = Fastify({ logger: { level: options.logLevel ?? 'silent' }, bodyLimit: config.server.bodyLimit, forceCloseConnections: true });

  app.setErrorHandler((err: FastifyError | PerfError, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 ? err.statusCode : 500;
    if (status >= 500 && !(err instanceof PerfError)) req.log.error({ err }, 'request failed');
    const message = status >= 500 && !(err instanceof PerfError) ? 'internal error; see the server log' : err.message;
    if (err instanceof PerfError && err.retryAfter !== undefined) void reply.header('retry-after', String(err.retryAfter));
    return reply.status(status).send({ statusCode: status, code: err.code ?? 'PERF_ERR_INTERNAL', message });
  });
  app.setNotFoundHandler((req, reply) => reply.status(404).send({ statusCode: 404, code: 'PERF_ERR_NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}; see /openapi.json` }));

  installAuth(app, access);
  await app.register(ingestRoutes, { store, view, token: access.ingest, config, stats, clock, onStored: (points, spans) => hub.ingested(points, spans) });
  await app.register(apiRoutes, { engine, store, pageSize: config.limits.pageSize });
  await app.register(viewRoutes, { engine, store, clock, dashboards, pageSize: config.limits.pageSize });
  await app.register(eventRoutes, { hub });
  await app.register(optimizationRoutes, { store, engine, config, env, hub, log: (m) => app.log.info(m) });
  await app.register(dashboardRoutes, {});
  const rum = new RumIngest(config.rum, store, clock, (points) => {
    view.add(points);
    hub.ingested(points.length, 0);
  });
  await app.register(rumRoutes, { rum, config: config.rum });
  await app.register(lighthouseRoutes, { store, clock, pages: config.rum.pages });
  const a = config.alerting;
  const dispatcher = a.enabled ? new Dispatcher({ channels: a.channels.map((c) => parseChannel(c, env)), groupBy: a.groupBy, groupWaitMs: a.groupWait, groupIntervalMs: a.groupInterval, repeatIntervalMs: a.repeatInterval }) : undefined;
  const slos = a.slos ?? DEFAULT_SLOS;
  const alerts = a.enabled ? new AlertEvaluator({ engine, store, ruleDirs: (a.rules ?? [DEFAULT_RULES]).map((d) => path.resolve(d)), clock, slos, storedRules: true, thresholds: thresholdContext(config), onTransition: (t) => {
    dispatcher!.notify(t);
    hub.publish({ type: 'alert', kind: t.kind, alert: t.instance.alert });
    // an acknowledgement ends with the alert
    if (t.kind === 'resolved') void store.deleteDoc('ack', fingerprint(t.instance)).then(() => loadNotificationState(store, dispatcher!));
  } }) : undefined;
  if (alerts) {
    alerts.reload();
    await alerts.loadStoredRules();
    await alerts.restore();
  }
  const uptime = a.uptime.length ? new UptimeMonitor(a.uptime, store, (err) => app.log.error({ err }, 'storing an uptime check failed')) : undefined;
  await app.register(alertRoutes, { alerts, dispatcher, store, hub, clock, engine, slos, thresholds: thresholdContext(config), uptime: a.uptime, uptimeMonitor: uptime });

  app.get('/healthz', async () => ({ status: 'ok', store: store.kind }));
  app.get('/openapi.json', async (_req, reply) => reply.type('application/json').send(fs.readFileSync(OPENAPI)));
  app.get('/metrics', async (_req, reply) => reply.type('text/plain; version=0.0.4; charset=utf-8').send(Readable.from(view.chunks(selfMetrics(stats, engine, view, rum)), { objectMode: false })));
  // what the limits cost whom: the dashboard shows the overflowing metrics and their likely culprit
  app.get('/api/limits', async () => ({ limits: config.limits, activeSeries: stats.limiter?.activeSeries ?? 0, queued: stats.queue?.length ?? 0, overflows: [...stats.overflows.values()].reverse() }));
  return { app, engine, stats, alerts, dispatcher, uptime, hub, rum };
}

export async function createServer(options: ServerOptions): Promise<PerformanceServer> {
  const { config } = options;
  // before anything is opened: beyond loopback, changes must need a token unless server.insecure
  const insecure = checkExposure(config, accessFrom(config, options.env ?? process.env));
  const ownStore = !options.store;
  const store = options.store ?? (await openStore(config));
  const clock = options.clock ?? Date.now;
  const { app, engine, stats, alerts, dispatcher, uptime, hub, rum } = await buildApp({ ...options, store });
  // replicas on one PostgreSQL store see each other's live events, as they see each other's data
  const closeRelay = store.kind === 'postgres' && config.store.url ? relayThroughPostgres(hub, config.store.url, (m) => app.log.warn(m)) : undefined;
  uptime?.start();
  const notifyTimer = dispatcher ? setInterval(() => dispatcher.tick(clock()), 1000) : undefined;
  notifyTimer?.unref();
  const loadNotifications = async () => dispatcher && (await loadNotificationState(store, dispatcher));
  await loadNotifications();
  const evaluateAlerts = async (): Promise<CycleResult | undefined> => {
    if (!alerts) return undefined;
    // silences and acknowledgements may have been set through another replica
    await loadNotifications();
    const r = await alerts.cycle(clock());
    for (const [where, message] of Object.entries(r.errors)) app.log.warn({ where }, message);
    return r;
  };
  const lab = new LighthouseSchedule({ store, clock, config: config.lab.lighthouse, log: (level, m) => app.log[level](m) });
  lab.start();
  const alertTimer = alerts ? setInterval(() => evaluateAlerts().catch((err) => app.log.error({ err }, 'alert evaluation failed')), config.monitoring.interval) : undefined;
  alertTimer?.unref();
  const maintain = async () => {
    await store.rollup(clock());
    await store.applyRetention(clock(), { minuteMs: config.store.minuteRetentionHours * 3_600_000, hourMs: config.monitoring.retention * 86_400_000 });
  };
  const timer = setInterval(() => maintain().catch((err) => app.log.error({ err }, 'maintenance failed')), MAINTENANCE_MS);
  timer.unref();
  // the scheduled optimizer: a bad optimization config fails the start, like any other config error
  const optimizer = config.optimization.enabled && config.optimization.autoOptimize ? startOptimizerSchedule({ config, env: options.env ?? process.env, store, engine, log: (level, m) => app.log[level](m) }) : undefined;
  try {
    await app.listen({ port: config.server.port, host: config.server.host });
  } catch (e) {
    lab.stop();
    clearInterval(timer);
    optimizer?.stop();
    clearInterval(alertTimer);
    clearInterval(notifyTimer);
    uptime?.stop();
    await closeRelay?.();
    if (ownStore) await store.close();
    throw e;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.server.port;
  const warnings = insecure ? [insecure] : [];
  const warn = options.onWarning ?? ((m: string) => (app.log.level === 'silent' ? process.emitWarning(m, { code: 'PERF_W_INSECURE' }) : app.log.warn(m)));
  for (const w of warnings) warn(w);
  const host = config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host;
  return {
    app,
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`,
    port,
    store,
    engine,
    stats,
    maintain,
    alerts,
    dispatcher,
    evaluateAlerts,
    optimizer,
    hub,
    rum,
    lab,
    warnings,
    async close() {
      lab.stop();
      clearInterval(timer);
      optimizer?.stop();
      clearInterval(alertTimer);
      clearInterval(notifyTimer);
      uptime?.stop();
      await closeRelay?.();
      hub.close();
      await app.close();
      if (ownStore) await store.close();
    },
  };
}

function selfMetrics(stats: IngestStats, engine: QueryEngine, view: PrometheusView, rum: RumIngest): string[] {
  const lines = ['# HELP solemate_perf_ingest_requests_total OTLP export requests received, by result', '# TYPE solemate_perf_ingest_requests_total counter'];
  for (const [result, n] of Object.entries(stats.requests)) lines.push(`solemate_perf_ingest_requests_total{result="${result}"} ${n}`);
  lines.push('# HELP solemate_perf_ingest_points_total Data points received, by result', '# TYPE solemate_perf_ingest_points_total counter');
  lines.push(`solemate_perf_ingest_points_total{result="accepted"} ${stats.acceptedPoints}`, `solemate_perf_ingest_points_total{result="rejected"} ${stats.rejectedPoints}`);
  lines.push('# HELP solemate_perf_ingest_spans_total Spans received, by result', '# TYPE solemate_perf_ingest_spans_total counter');
  lines.push(`solemate_perf_ingest_spans_total{result="accepted"} ${stats.acceptedSpans}`, `solemate_perf_ingest_spans_total{result="rejected"} ${stats.rejectedSpans}`);
  lines.push('# HELP solemate_perf_ingest_active_series Series that received a point within limits.seriesWindowMinutes', '# TYPE solemate_perf_ingest_active_series gauge', `solemate_perf_ingest_active_series ${stats.limiter?.activeSeries ?? 0}`);
  lines.push('# HELP solemate_perf_ingest_series_overflow_points_total Points folded into a metric\'s overflow series or rejected by the series limits, by metric and service', '# TYPE solemate_perf_ingest_series_overflow_points_total counter');
  for (const o of stats.overflows.values()) lines.push(`solemate_perf_ingest_series_overflow_points_total${formatLabels({ metric: o.metric, reason: o.reason, service: o.service })} ${o.total}`);
  lines.push('# HELP solemate_perf_ingest_span_attributes_limited_total Span attributes dropped past limits.attributes, and values cut to limits.attributeValueLength', '# TYPE solemate_perf_ingest_span_attributes_limited_total counter');
  lines.push(`solemate_perf_ingest_span_attributes_limited_total{action="dropped"} ${stats.droppedAttributes}`, `solemate_perf_ingest_span_attributes_limited_total{action="cut"} ${stats.cutValues}`);
  lines.push('# HELP solemate_perf_query_over_budget_total Queries answered 422, by the budget they passed (limits.querySeries, queryRows, queryTimeMs)', '# TYPE solemate_perf_query_over_budget_total counter');
  for (const [budget, n] of Object.entries(engine.overBudgetCount)) lines.push(`solemate_perf_query_over_budget_total{budget="${budget}"} ${n}`);
  lines.push('# HELP solemate_perf_ingest_queued_requests OTLP requests waiting to be stored (limits.queuedRequests)', '# TYPE solemate_perf_ingest_queued_requests gauge', `solemate_perf_ingest_queued_requests ${stats.queue?.length ?? 0}`);
  lines.push('# HELP solemate_perf_rum_beacons_total Real-user beacons received at /v1/rum, by result', '# TYPE solemate_perf_rum_beacons_total counter');
  for (const [result, n] of Object.entries(rum.beacons)) lines.push(`solemate_perf_rum_beacons_total{result="${result}"} ${n}`);
  lines.push('# HELP solemate_perf_rum_other_total Beacons stored under "(other)": past rum.pagesPerService page templates, or past rum.services services', '# TYPE solemate_perf_rum_other_total counter');
  lines.push(`solemate_perf_rum_other_total{limit="pagesPerService"} ${rum.aggregator.counts.otherPages}`, `solemate_perf_rum_other_total{limit="services"} ${rum.aggregator.counts.otherServices}`);
  lines.push(`# HELP solemate_perf_prometheus_view_dropped_points_total Points of series past the ${view.maxSeries} this page shows (they are stored and queryable; only this page leaves them out)`, '# TYPE solemate_perf_prometheus_view_dropped_points_total counter', `solemate_perf_prometheus_view_dropped_points_total ${view.dropped}`);
  return lines;
}
