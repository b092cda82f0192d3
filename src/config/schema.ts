// PerformanceConfig: the PRD's four sections (monitoring, optimization, alerting, reporting) with
// their names kept, plus where the server listens, where data lives and how the SDK sends.
// Every default is chosen so `solemate-perf start` works with no file at all.
import { z } from 'zod';

const positive = z.number().positive();

/** Which series a rule, SLO or query looks at (alert rule files and SLOs share it). */
export const filtersSchema = z.object({ service: z.string(), instance: z.string(), route: z.string(), method: z.string(), status: z.string(), tags: z.record(z.string()) }).partial().strict();

/** A service level objective (alerting.slos; semantics in alerts/slo.ts). */
export const sloSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z][\w-]*$/),
    description: z.string().optional(),
    /** fraction of good events, e.g. 0.999 */
    objective: z.number().gt(0).lt(1),
    /** rolling window of the error budget */
    window: z.string().default('30d'),
    sli: z.discriminatedUnion('type', [
      z.object({ type: z.literal('availability'), metric: z.string().default('http.server.request.duration'), filters: filtersSchema.default({}) }).strict(),
      z.object({ type: z.literal('latency'), metric: z.string().default('http.server.request.duration'), thresholdMs: z.number().positive(), filters: filtersSchema.default({}) }).strict(),
      z.object({ type: z.literal('uptime'), check: z.string().optional() }).strict(),
      /** a period (default 1h) is good when the quantile of its values is ≤ thresholdMs: "p75 LCP < 2 s for 99% of hours" */
      z.object({ type: z.literal('percentile'), metric: z.string(), quantile: z.number().gt(0).lt(1).default(0.75), thresholdMs: z.number().positive(), period: z.string().default('1h'), filters: filtersSchema.default({}) }).strict(),
    ]),
  })
  .strict();
export type Slo = z.output<typeof sloSchema>;

/** A synthetic uptime check (alerting.uptime; run by alerts/uptime.ts). */
export const uptimeCheckSchema = z
  .object({
    name: z.string().regex(/^[\w.-]+$/),
    url: z.string().url(),
    /** ms between checks */
    interval: z.number().int().min(1000).default(60_000),
    /** ms */
    timeout: z.number().int().positive().default(5_000),
    expectStatus: z.number().int().min(100).max(599).default(200),
    /** the body must contain this text */
    expectBody: z.string().optional(),
  })
  .strict();
export type UptimeCheck = z.output<typeof uptimeCheckSchema>;

export const performanceConfigSchema = z
  .object({
    monitoring: z
      .object({
        enabled: z.boolean().default(true),
        /** ms between SDK delta snapshots (and runtime samples) */
        interval: z.number().int().min(1000).max(3_600_000).default(10_000),
        /** days of hourly data kept */
        retention: z.number().positive().max(3650).default(30),
        /** request tracing: spans per request, tail-sampled, sent to /v1/traces */
        tracing: z
          .object({
            enabled: z.boolean().default(true),
            /** slowest requests kept per route per minute (every error trace is kept too) */
            slowestPerRoute: z.number().int().min(0).max(100).default(3),
            /** upper bound of traces kept per minute, errors included */
            maxTracesPerMinute: z.number().int().positive().default(600),
          })
          .strict()
          .default({}),
        thresholds: z
          .object({
            /** ms, average response time; PRD success metric "< 200 ms average response time" */
            responseTime: positive.default(200),
            /** % of one core's time used by the process (can exceed 100 on several cores) */
            cpuUsage: positive.default(80),
            /** % of system memory used by the process (RSS) */
            memoryUsage: positive.max(100).default(85),
            /** % of requests that fail; PRD success metric "< 0.1% error rate" */
            errorRate: positive.max(100).default(0.1),
          })
          .strict()
          .default({}),
      })
      .strict()
      .default({}),
    optimization: z
      .object({
        enabled: z.boolean().default(false),
        autoOptimize: z.boolean().default(false),
        optimizationInterval: z.number().int().positive().default(3_600_000),
        validationRequired: z.boolean().default(true),
        /** for the server's scheduled runs (enabled + autoOptimize): the service's base URL (loopback unless loadtest.allowedHosts) */
        target: z.string().url().optional(),
        /** the load-test scenario file the changes are measured with */
        scenario: z.string().optional(),
        /** the service's PostgreSQL (index actions, the optimizer lock); "env:NAME" reads it from the environment */
        databaseUrl: z.string().optional(),
        /** how far back each scheduled analysis looks */
        window: z.string().default('15m'),
        /** analyzer options by analyzer id, e.g. { "missing-index": { minCostCut: 0.3 } } (defaults and their sources: analyze --json) */
        analyzers: z.record(z.record(z.union([z.number(), z.boolean(), z.string()]))).default({}),
        /** before/after measurement: seconds per run, before/after pairs, requests/s */
        measure: z.object({ seconds: z.number().positive().max(600).optional(), rounds: z.number().int().min(1).max(20).optional(), rate: z.number().positive().optional() }).strict().default({}),
      })
      .strict()
      .default({}),
    alerting: z
      .object({
        enabled: z.boolean().default(true),
        channels: z.array(z.string()).default([]),
        /** directories of alert rule files (default: the shipped performance/alerts) */
        rules: z.array(z.string()).optional(),
        /** service level objectives with error budgets and burn-rate alerts (default: the PRD's success metrics) */
        slos: z.array(sloSchema).optional(),
        /** synthetic HTTP checks, stored as solemate.uptime.checks / solemate.uptime.duration */
        uptime: z.array(uptimeCheckSchema).default([]),
        /** labels that group alerts into one notification */
        groupBy: z.array(z.string()).default(['alertname']),
        /** ms a new group waits so alerts firing together are sent together */
        groupWait: z.number().int().min(0).default(30_000),
        /** ms between notifications of a group whose alerts changed */
        groupInterval: z.number().int().positive().default(300_000),
        /** ms after which a group still firing is notified again */
        repeatInterval: z.number().int().positive().default(14_400_000),
        /** multipliers of monitoring.thresholds: warning at 80% of a threshold, critical at 100% */
        thresholds: z
          .object({ critical: positive.default(1), warning: positive.default(0.8) })
          .strict()
          .refine((t) => t.warning <= t.critical, { message: 'warning must not exceed critical' })
          .default({}),
      })
      .strict()
      .default({}),
    reporting: z
      .object({
        enabled: z.boolean().default(false),
        schedule: z.string().default('0 8 * * 1'),
        format: z.enum(['json', 'csv', 'pdf']).default('json'),
        recipients: z.array(z.string()).default([]),
      })
      .strict()
      .default({}),
    server: z
      .object({
        host: z.string().default('127.0.0.1'),
        /** 4318 is the OTLP/HTTP standard port */
        port: z.number().int().min(0).max(65535).default(4318),
        /** largest request body accepted, compressed (bytes) */
        bodyLimit: z.number().int().positive().default(8 * 1024 * 1024),
        /** largest body after gzip/deflate decompression (bytes) */
        maxDecompressed: z.number().int().positive().default(16 * 1024 * 1024),
        /** path of a file holding the ingest token (or set SOLEMATE_PERF_INGEST_TOKEN) */
        ingestTokenFile: z.string().optional(),
        /** file holding the viewer token (or SOLEMATE_PERF_VIEWER_TOKEN): when set, reading the API and the dashboard needs a token */
        viewerTokenFile: z.string().optional(),
        /** file holding the admin token (or SOLEMATE_PERF_ADMIN_TOKEN): when set, changes need it (default: the ingest token) */
        adminTokenFile: z.string().optional(),
        /** start on a non-loopback host without an admin token (a trusted network only): anyone who can reach the port can change the system */
        insecure: z.boolean().default(false),
      })
      .strict()
      .default({}),
    /** What one client may send: the server's limit table (docs/configuration.md#limits). Past each, a clear answer and a counter. */
    limits: z
      .object({
        /** active series of one metric of one service (received a point within seriesWindowMinutes); new ones past it fold into the overflow series */
        seriesPerMetric: z.number().int().positive().default(10_000),
        /** active series of one service, all its metrics; new series past it are rejected (partial success) */
        seriesPerService: z.number().int().positive().default(50_000),
        /** active series in all; new series past it are rejected (partial success) */
        series: z.number().int().positive().default(100_000),
        /** how long a series stays active after its last point */
        seriesWindowMinutes: z.number().positive().default(60),
        /** data points in one OTLP request → 413 beyond */
        pointsPerRequest: z.number().int().positive().default(20_000),
        /** spans in one OTLP request → 413 beyond */
        spansPerRequest: z.number().int().positive().default(20_000),
        /** spans of one trace in one request; the rest are rejected (partial success) */
        spansPerTrace: z.number().int().positive().default(5_000),
        /** attributes of a point, span, event or link: a point with more is rejected (they are its identity); a span's extras are dropped and counted */
        attributes: z.number().int().positive().default(64),
        /** attributes of a resource: the extras are dropped and counted, the request is kept */
        resourceAttributes: z.number().int().positive().default(128),
        /** characters of an attribute value or a span name: a point with a longer one is rejected, a span's is cut */
        attributeValueLength: z.number().int().positive().default(1024),
        /** points and spans older than this, or more than futureMinutes ahead, are rejected */
        maxAgeDays: z.number().positive().default(400),
        futureMinutes: z.number().positive().default(60),
        /** nesting of a JSON body (arrays and objects) → 400 beyond, before it is parsed */
        jsonDepth: z.number().int().positive().default(64),
        /** OTLP requests waiting to be stored → 429 with Retry-After beyond */
        queuedRequests: z.number().int().positive().default(16),
        /** series one query may read → 422 that says how to narrow it */
        querySeries: z.number().int().positive().default(20_000),
        /** rows (a series' minute or hour) one query may read → 422; each costs ~0.3–1 KB while it is answered */
        queryRows: z.number().int().positive().default(500_000),
        /** time one query may take reading → 422 */
        queryTimeMs: z.number().int().positive().default(10_000),
        /** entries of a list answer (metric names, series, routes) when no limit is asked; at most 10× this */
        pageSize: z.number().int().positive().default(1_000),
      })
      .strict()
      .default({}),
    store: z
      .object({
        kind: z.enum(['sqlite', 'postgres']).default('sqlite'),
        /** SQLite file for the embedded store */
        path: z.string().default('.data/solemate-perf.db'),
        /** PostgreSQL connection string; prefer SOLEMATE_PERF_DATABASE_URL so passwords stay out of files */
        url: z.string().optional(),
        /** hours of per-minute data kept before only hourly rollups remain */
        minuteRetentionHours: z.number().positive().default(48),
      })
      .strict()
      .default({}),
    /** Real-user monitoring: beacons of solemate-performance/browser at POST /v1/rum (docs/frontend.md). */
    rum: z
      .object({
        enabled: z.boolean().default(true),
        /**
         * origins whose pages may send beacons ("https://shop.example.com", "https://*.example.com");
         * the server's own origin and loopback ones always may
         */
        origins: z.array(z.string().regex(/^https?:\/\/(\*\.)?[^/*]+$/, 'an origin: scheme://host[:port], optionally *. before the host')).default([]),
        /** page templates tried first ("/products/:id", "/blog/*"); other paths have their id-like segments taken out */
        pages: z.array(z.string().regex(/^\//, 'a path template starting with /')).default([]),
        /** beacons merged in memory are stored this often */
        flushSeconds: z.number().positive().max(60).default(10),
        /** largest beacon body (bytes) → 413 */
        bodyBytes: z.number().int().positive().max(1024 * 1024).default(16 * 1024),
        /** beacons one client address may send a minute → 429 */
        beaconsPerClientPerMinute: z.number().int().positive().default(120),
        /** client addresses the rate limiter remembers (the oldest forgotten first) */
        clients: z.number().int().positive().default(10_000),
        metricsPerBeacon: z.number().int().positive().default(50),
        /** page templates per service; later ones are stored as "(other)" */
        pagesPerService: z.number().int().positive().default(200),
        /** services (the beacon's service); later ones are stored as "(other)" */
        services: z.number().int().positive().default(50),
        /** attribution targets (LCP element, INP target, CLS source) per page and vital; later ones are "(other)" */
        targets: z.number().int().positive().default(20),
      })
      .strict()
      .default({}),
    /** Lab measurements the server runs on a schedule (docs/cli.md#lighthouse). */
    lab: z
      .object({
        lighthouse: z
          .object({
            /** pages measured every everyMinutes (empty: no scheduled runs) */
            urls: z.array(z.string().url()).default([]),
            everyMinutes: z.number().int().min(1).default(60),
            runs: z.number().int().min(1).max(20).default(3),
            preset: z.enum(['mobile', 'desktop']).default('mobile'),
          })
          .strict()
          .default({}),
      })
      .strict()
      .default({}),
    loadtest: z
      .object({
        /** hosts besides loopback that load tests may target */
        allowedHosts: z.array(z.string()).default([]),
      })
      .strict()
      .default({}),
    sdk: z
      .object({
        endpoint: z.string().url().default('http://127.0.0.1:4318'),
        protocol: z.enum(['http/protobuf', 'http/json']).default('http/protobuf'),
        service: z.string().optional(),
        cardinalityLimit: z.number().int().positive().default(2000),
        /** points held while the server is unreachable; the oldest are dropped and counted beyond */
        maxBufferedPoints: z.number().int().positive().default(50_000),
        timeoutMs: z.number().int().positive().default(10_000),
      })
      .strict()
      .default({}),
  })
  .strict();

export type PerformanceConfig = z.output<typeof performanceConfigSchema>;
export type PerformanceConfigInput = z.input<typeof performanceConfigSchema>;
