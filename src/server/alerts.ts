// /api/alerts: the PRD's getPerformanceAlerts — active instances (pending and firing), the rules
// in force with the errors of broken files, and the firing/resolved history; notification
// deliveries; silences (mutating calls need the admin token when one is configured: server/auth.ts).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { AlertEvaluator } from '../alerts/evaluator.js';
import type { Dispatcher, Silence } from '../alerts/dispatcher.js';
import { CycleReads, evaluateExpr } from '../alerts/expr.js';
import { fingerprint } from '../alerts/channels.js';
import { sliCounts, sloStatus, type Slo } from '../alerts/slo.js';
import { parseRuleObject, type ThresholdContext } from '../alerts/rules.js';
import type { UptimeCheck, UptimeMonitor } from '../alerts/uptime.js';
import type { QueryEngine } from '../query/engine.js';
import type { EventHub } from './events.js';
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

/** Silences and acknowledgements live in the store (shared by replicas); the dispatcher works from a copy. */
export async function loadNotificationState(store: Store, dispatcher: Dispatcher): Promise<void> {
  dispatcher.restoreSilences((await store.listDocs('silence')).map((d) => d.body as unknown as Silence));
  dispatcher.restoreAcks((await store.listDocs('ack')).map((d) => d.id));
}

export async function alertRoutes(app: FastifyInstance, opts: { alerts: AlertEvaluator | undefined; dispatcher: Dispatcher | undefined; store: Store; hub: EventHub; clock: () => number; engine: QueryEngine; slos: Slo[]; thresholds: ThresholdContext; uptime: UptimeCheck[]; uptimeMonitor: UptimeMonitor | undefined }): Promise<void> {
  const { alerts, store, dispatcher } = opts;
  const changed = (type: 'rules' | 'silences') => opts.hub.publish({ type });
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
    const acks = new Map((await store.listDocs('ack')).map((d) => [d.id, d.body]));
    const inhibitors = dispatcher?.inhibitors();
    return {
      active: a.active().map((x) => ({ ...x, fingerprint: fingerprint(x), acknowledged: acks.get(fingerprint(x)) ?? null })),
      rules: a.rules.map((r) => ({ id: r.id, alert: r.alert, group: r.group, file: r.file, severity: r.labels.severity, expr: r.expr, for: r.forMs, keepFiringFor: r.keepFiringForMs })),
      ruleErrors: a.ruleErrors,
      lastCycle: a.lastCycle,
      // what a notification would do with each active alert right now
      muted: Object.fromEntries(a.active().map((x) => [x.key, dispatcher?.silencedBy(x.labels, opts.clock()) ? 'silenced' : dispatcher?.inhibited(x.labels, inhibitors) ? 'inhibited' : null]).filter(([, v]) => v)),
    };
  });

  // getPerformanceDashboard: what the dashboard shows on one screen, in one request
  app.get('/api/dashboard', async () => {
    const now = opts.clock();
    const reads = new CycleReads(opts.engine, now);
    const expr = (aggregation: 'p95' | 'rate' | 'error_ratio') => ({ metric: 'http.server.request.duration', aggregation, window: '15m', filters: {}, by: ['route'], op: '>' as const, threshold: 0 });
    const [status, metrics, slos, p95, rate, errors] = await Promise.all([
      opts.engine.getPerformanceStatus(),
      opts.engine.getPerformanceMetrics({ from: '-15m' }),
      Promise.all(opts.slos.map((s) => sloStatus(reads, s))),
      evaluateExpr(reads, expr('p95'), 900_000),
      evaluateExpr(reads, expr('rate'), 900_000),
      evaluateExpr(reads, expr('error_ratio'), 900_000),
    ]);
    const byRoute = (xs: { labels: Record<string, string>; value: number }[]) => new Map(xs.map((x) => [x.labels.route, x.value]));
    const [r, e] = [byRoute(rate), byRoute(errors)];
    const routes = p95
      .map((x) => ({ route: x.labels.route || '(unmatched)', p95Ms: x.value, requestsPerSecond: r.get(x.labels.route) ?? 0, errorRatio: e.get(x.labels.route) ?? 0 }))
      .sort((a, b) => b.p95Ms - a.p95Ms)
      .slice(0, 10);
    return { generatedAt: new Date(now).toISOString(), status, metrics, slowestRoutes: routes, alerts: alerts?.active() ?? [], slos, uptime: opts.uptimeMonitor?.last() ?? [] };
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

  // acknowledgements: someone is on it; the alert keeps firing but is not repeated
  app.post('/api/alerts/:fingerprint/ack', async (req: FastifyRequest<{ Params: { fingerprint: string } }>, reply) => {
    const a = enabled().active().find((x) => fingerprint(x) === req.params.fingerprint);
    if (!a) throw new PerfError('PERF_ERR_NOT_FOUND', `no active alert with fingerprint ${req.params.fingerprint} (GET /api/alerts lists them)`);
    const body = (req.body ?? {}) as { by?: unknown; comment?: unknown };
    if (typeof body.by !== 'string' || !body.by) throw new PerfError('PERF_ERR_BAD_REQUEST', 'by: who acknowledges is required');
    const ack = { fingerprint: req.params.fingerprint, key: a.key, by: body.by, comment: typeof body.comment === 'string' ? body.comment : '', at: opts.clock() };
    await store.putDoc('ack', ack.fingerprint, ack);
    if (dispatcher) await loadNotificationState(store, dispatcher);
    changed('silences');
    return reply.status(201).send(ack);
  });

  app.get('/api/alerts/deliveries', async () => ({ deliveries: notifier().deliveries().reverse() }));

  app.get('/api/silences', async () => ({ silences: notifier().silences() }));

  app.post('/api/silences', async (req: FastifyRequest, reply) => {
    const d = notifier();
    const parsed = silenceSchema.safeParse(req.body);
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      throw new PerfError('PERF_ERR_BAD_REQUEST', `${i.path.join('.') || 'body'}: ${i.message}`);
    }
    const now = opts.clock();
    try {
      const s = d.addSilence({ matchers: parsed.data.matchers, startsAt: parsed.data.startsAt ? Date.parse(parsed.data.startsAt) : now, endsAt: Date.parse(parsed.data.endsAt), createdBy: parsed.data.createdBy, comment: parsed.data.comment });
      await store.putDoc('silence', s.id, s as unknown as Record<string, unknown>);
      changed('silences');
      return reply.status(201).send(s);
    } catch (e) {
      throw new PerfError('PERF_ERR_BAD_REQUEST', (e as Error).message);
    }
  });

  app.delete('/api/silences/:id', async (req: FastifyRequest<{ Params: { id: string } }>) => {
    const d = notifier();
    if (!d.expireSilence(req.params.id, opts.clock())) throw new PerfError('PERF_ERR_NOT_FOUND', `no silence ${req.params.id}`);
    const s = d.silences().find((x) => x.id === req.params.id)!;
    await store.putDoc('silence', s.id, s as unknown as Record<string, unknown>);
    changed('silences');
    return { expired: req.params.id };
  });

  // createPerformanceAlert / updatePerformanceAlert: rules kept in the store, evaluated with the files
  app.get('/api/alerts/rules', async () => ({ rules: enabled().rules.map((r) => ({ id: r.id, alert: r.alert, group: r.group, file: r.file, expr: r.expr, for: r.forMs, keepFiringFor: r.keepFiringForMs, labels: r.labels, annotations: r.annotations })) }));

  const putRule = async (req: FastifyRequest, alertName: string | undefined, mustExist: boolean) => {
    const a = enabled();
    const rule = parseRuleObject(req.body, opts.thresholds);
    if (alertName !== undefined && rule.alert !== alertName) throw new PerfError('PERF_ERR_BAD_REQUEST', `the body's alert (${rule.alert}) differs from the one in the path (${alertName})`);
    const exists = (await store.listDocs('alert-rule')).some((d) => d.id === rule.alert);
    if (mustExist && !exists) throw new PerfError('PERF_ERR_NOT_FOUND', `no API rule ${rule.alert}`);
    if (!mustExist && exists) throw new PerfError('PERF_ERR_BAD_REQUEST', `rule ${rule.alert} exists; update it with PUT /api/alerts/rules/${rule.alert}`);
    await store.putDoc('alert-rule', rule.alert, req.body as Record<string, unknown>);
    await a.loadStoredRules();
    changed('rules');
    return rule;
  };
  app.post('/api/alerts/rules', async (req, reply) => reply.status(201).send({ id: (await putRule(req, undefined, false)).id }));
  app.put('/api/alerts/rules/:alert', async (req: FastifyRequest<{ Params: { alert: string } }>) => ({ id: (await putRule(req, req.params.alert, true)).id }));
  app.delete('/api/alerts/rules/:alert', async (req: FastifyRequest<{ Params: { alert: string } }>) => {
    if (!(await store.deleteDoc('alert-rule', req.params.alert))) throw new PerfError('PERF_ERR_NOT_FOUND', `no API rule ${req.params.alert}`);
    await enabled().loadStoredRules();
    changed('rules');
    return { deleted: req.params.alert };
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
