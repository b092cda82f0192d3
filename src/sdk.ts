// The app-side entry, `solemate-performance/sdk`: what an instrumented service loads, and nothing of
// the performance server (store, query engine, fastify, SQLite). Importing the full package entry
// into an app costs it heap and GC time on every request (measured with callgrind: ~2% of an
// Express hello world), so apps should import from here.
export { PerformanceService, createPerformanceService, type PerformanceServiceOptions } from './sdk/performance-service.js';
export { Recorder, type RecorderOptions } from './sdk/recorder.js';
export { OVERFLOW_ATTRIBUTE, type MetricInstrument } from './sdk/instruments.js';
export type { Handle } from './sdk/series.js';
export { ExpHistogram, relativeErrorBound, type HistogramData } from './model/histogram.js';
export { startRuntimeSampler } from './sdk/runtime.js';
export { PerformanceMonitoringService, type PerformanceAlertState, type PerformanceDashboard } from './sdk/monitoring-service.js';
export type { PerformanceAlert } from './alerts/rules.js';
export { Tracer, TailSampler, RequestContext, currentContext, parseTraceparent, formatTraceparent, type TracerOptions } from './sdk/tracing.js';
export type { SpanData, TraceRecord } from './model/spans.js';
export { expressMetrics, type ExpressMetricsOptions } from './instrument/express.js';
export { fastifyMetrics } from './instrument/fastify.js';
export { instrumentHttpServer, type HttpServerInstrumentationOptions } from './instrument/node-http.js';
export type { HttpInstrumentationOptions } from './instrument/http-server.js';
export { instrumentPg, type PgInstrumentationOptions } from './instrument/pg.js';
export { instrumentIoredis, Cache, type CacheOptions } from './instrument/ioredis.js';
export { instrumentHttpClient } from './instrument/http-client.js';
export { sanitizeSql, fingerprint } from './instrument/sql.js';
export { collectPostgres, recordPostgres, type PostgresReport } from './collectors/postgres.js';
export { RedisCollector, recordRedis, type RedisReport } from './collectors/redis.js';
export { OtlpHttpExporter, METRICS, TRACES, type OtlpExporterOptions } from './exporters/otlp.js';
export type { MetricPoint, MetricKind, Attributes } from './model/metrics.js';
export { optimizationMiddleware, type OptimizationMiddleware, type OptimizationMiddlewareOptions } from './optimize/middleware.js';
export type { OptimizationSettings, SettingEntry } from './model/settings.js';
