// /api/alerts: the PRD's getPerformanceAlerts — active instances (pending and firing), the rules
// in force with the errors of broken files, and the firing/resolved history.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AlertEvaluator } from '../alerts/evaluator.js';
import { PerfError } from '../errors.js';
import { parseTime } from '../query/filters.js';
import type { Store } from '../store/store.js';

type Query = Record<string, string | string[] | undefined>;

export async function alertRoutes(app: FastifyInstance, opts: { alerts: AlertEvaluator | undefined; store: Store }): Promise<void> {
  const { alerts, store } = opts;
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
    };
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
