// /api/alerts: the PRD's getPerformanceAlerts — active instances (pending and firing), the rules
// in force with the errors of broken files, and the firing/resolved history; notification
// deliveries; silences (mutating calls take the server's token when one is configured).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AlertEvaluator } from '../alerts/evaluator.js';
import type { Dispatcher } from '../alerts/dispatcher.js';
import { CycleReads } from '../alerts/expr.js';
import { sliCounts, sloStatus, type Slo } from '../alerts/slo.js';
import type { UptimeCheck, UptimeMonitor } from '../alerts/uptime.js';
import type { QueryEngine } from '../query/engine.js';
import { tokenMatches } from './ingest.js';
import { PerfError } from '../errors.js';
import { parseDuration, parseTime } from '../query/filters.js';
import type { Store } from '../store/store.js';

type Query = Record<string, string | string[] | undefined>;

const isoTime = z.string().refine((v) => !Number.isNaN(Date.parse(v)), 'an ISO-8601 time');
const silenceSchema = z
  .object({
    matchers: z.array(z.object({ name: z.string().min(1), value: z.string(), op: z.enum(['=', '!=', '=~', '!~']).default('=') }).strict()).min(1),
    startsAt: isoTime.optional(),
    endsAt: isoTime,
    createdBy: z.string().min(1),
    comment: z.string().min(1),
  })
  .strict();

export async function alertRoutes(app: FastifyInstance, opts: { alerts: AlertEvaluator | undefined; dispatcher: Dispatcher | undefined; store: Store; token: string | undefined; clock: () => number; engine: QueryEngine; slos: Slo[]; uptime: UptimeCheck[]; uptimeMonitor: UptimeMonitor | undefined }): Promise<void> {
  const { alerts, store, dispatcher } = opts;
  /** mutating calls need the token when one is configured (the same as for ingest) */
  const authorize = (req: FastifyRequest) => {
    if (opts.token !== undefined && !tokenMatches(req.headers.authorization, opts.token)) throw new PerfError('PERF_ERR_UNAUTHORIZED', 'missing or wrong token: send "Authorization: Bearer <token>"');
  };
  const notifier = () => {
    if (!dispatcher) throw new PerfError('PERF_ERR_NOT_FOUND', 'alerting is disabled (alerting.enabled: false)');
    return dispatcher;
  };
  const enabled = () => {
    if (!alerts) throw new PerfError('PERF_ERR_NOT_FOUND', 'alerting is disabled (alerting.enabled: false)');
    return alerts;
  };

  app.get('/api/alerts', async () => {
    const a = enabled();
    return {
      active: a.active(),
      rules: a.rules.map((r) => ({ id: r.id, alert: r.alert, group: r.group, file: r.file, severity: r.labels.severity, expr: r.expr, for: r.forMs, keepFiringFor: r.keepFiringForMs })),
      ruleErrors: a.ruleErrors,
      lastCycle: a.lastCycle,
      // what a notification would do with each active alert right now
      muted: Object.fromEntries(a.active().map((x) => [x.key, dispatcher?.silencedBy(x.labels, opts.clock()) ? 'silenced' : dispatcher?.inhibited(x.labels) ? 'inhibited' : null]).filter(([, v]) => v)),
    };
  });

  app.get('/api/slos', async () => {
    const reads = new CycleReads(opts.engine, opts.clock());
    return { slos: await Promise.all(opts.slos.map((s) => sloStatus(reads, s))) };
  });

  app.get('/api/uptime', async (req: FastifyRequest<{ Querystring: Query }>) => {
    const { window = '24h' } = req.query;
    if (typeof window !== 'string') throw new PerfError('PERF_ERR_QUERY', 'window may be given once');
    let ms: number;
    try {
      ms = parseDuration(window);
    } catch (e) {
      throw new PerfError('PERF_ERR_QUERY', (e as Error).message);
    }
    const reads = new CycleReads(opts.engine, opts.clock());
    const last = new Map((opts.uptimeMonitor?.last() ?? []).map((r) => [r.check, r]));
    const checks = await Promise.all(
      opts.uptime.map(async (c) => {
        const { good, total } = await sliCounts(reads, { name: c.name, objective: 0.5, window, sli: { type: 'uptime', check: c.name } }, ms);
        return { name: c.name, url: c.url, window, checks: total, successes: good, uptimePercent: total ? (good / total) * 100 : null, last: last.get(c.name) ?? null };
      }),
    );
    return { checks };
  });

  app.get('/api/alerts/deliveries', async () => ({ deliveries: notifier().deliveries().reverse() }));

  app.get('/api/silences', async () => ({ silences: notifier().silences() }));

  app.post('/api/silences', async (req: FastifyRequest, reply) => {
    authorize(req);
    const d = notifier();
    const parsed = silenceSchema.safeParse(req.body);
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      throw new PerfError('PERF_ERR_BAD_REQUEST', `${i.path.join('.') || 'body'}: ${i.message}`);
    }
    const now = opts.clock();
    try {
      const s = d.addSilence({ matchers: parsed.data.matchers, startsAt: parsed.data.startsAt ? Date.parse(parsed.data.startsAt) : now, endsAt: Date.parse(parsed.data.endsAt), createdBy: parsed.data.createdBy, comment: parsed.data.comment });
      return reply.status(201).send(s);
    } catch (e) {
      throw new PerfError('PERF_ERR_BAD_REQUEST', (e as Error).message);
    }
  });

  app.delete('/api/silences/:id', async (req: FastifyRequest<{ Params: { id: string } }>) => {
    authorize(req);
    if (!notifier().expireSilence(req.params.id, opts.clock())) throw new PerfError('PERF_ERR_NOT_FOUND', `no silence ${req.params.id}`);
    return { expired: req.params.id };
  });

  app.get('/api/alerts/history', async (req: FastifyRequest<{ Querystring: Query }>) => {
    enabled();
    const { since, limit } = req.query;
    if (Array.isArray(since) || Array.isArray(limit)) throw new PerfError('PERF_ERR_QUERY', 'since and limit may be given once');
    let from: number;
    try {
      from = parseTime(since, Date.now(), 0);
    } catch (e) {
      throw new PerfError('PERF_ERR_QUERY', (e as Error).message);
    }
    const n = limit === undefined ? 100 : Number(limit);
    if (!Number.isInteger(n) || n < 1 || n > 1000) throw new PerfError('PERF_ERR_QUERY', 'limit is an integer from 1 to 1000');
    return { events: await store.alertEvents({ since: from, limit: n }) };
  });
}
