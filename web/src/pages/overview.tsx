// Overview: how fast, how busy, how many errors right now; SLOs and their budgets, firing alerts
// and the top recommendations.
import { useApi } from '../api';
import { Badge, Panel, Stat } from '../components';
import { ms, num, pct, SEVERITY_TONE, time } from '../format';
import { QueryChart } from '../panels';
import type { AlertInstance, Limits, Metrics, Recommendation, Slo, Status } from '../types';
import { linkTo, rangeQuery, useLocation, withQuery } from '../url';

const HTTP = 'http.server.request.duration';

/** Links to the dashboards as code (performance/dashboards). */
function Dashboards() {
  const { params } = useLocation();
  const all = useApi<{ dashboards: { name: string; title: string; description?: string }[] }>('/api/dashboards', false);
  return (
    <Panel title="Dashboards as code" wide error={all.error}>
      <ul class="list">
        {all.data?.dashboards.map((d) => (
          <li>
            <a href={withQuery(`/dashboards/${d.name}`, params)} onClick={(e) => linkTo(e, withQuery(`/dashboards/${d.name}`, params))}>
              {d.title}
            </a>{' '}
            <span class="muted">{d.description}</span>
          </li>
        ))}
      </ul>
    </Panel>
  );
}

/** Shown only when the series limits cost a metric data: which metric, why, and the likely culprit. */
function SeriesLimits() {
  const l = useApi<Limits>('/api/limits', false);
  const over = l.data?.overflows ?? [];
  if (over.length === 0) return null;
  return (
    <Panel title="Series limits reached" wide>
      <p>
        These metrics send more distinct attribute sets than the server keeps ({l.data!.limits.seriesPerMetric} active series per metric of a service, {l.data!.limits.seriesPerService} per service, {l.data!.limits.series} in all; {l.data!.activeSeries} active now). Their new series are folded into one series marked <code>otel.metric.overflow=true</code>, or rejected past a service's or the server's total.
      </p>
      <ul class="list">
        {over.map((o) => (
          <li>
            <Badge tone="warn">{o.reason === 'series_per_metric' ? 'folded' : 'rejected'}</Badge> <strong>{o.metric}</strong> <span class="muted">from {o.service}</span> — {num(o.total, 0)} points, last {time(o.lastAt)}
            {o.attribute && (
              <div>
                attribute <code>{o.attribute}</code> has {num(o.distinct, 0)} distinct values: leave it off this metric
              </div>
            )}
          </li>
        ))}
      </ul>
    </Panel>
  );
}

export function Overview() {
  const { params } = useLocation();
  const range = rangeQuery(params);
  const d = useApi<{ status: Status; metrics: Metrics; alerts: AlertInstance[]; slos: Slo[]; slowestRoutes: { route: string; p95Ms: number; requestsPerSecond: number; errorRatio: number }[] }>('/api/dashboard');
  const recs = useApi<{ recommendations: Recommendation[]; analyzedAt: string }>('/api/optimizations/recommendations', false);
  const m = d.data?.metrics;
  const tone = (s?: string) => (s === 'critical' ? 'bad' : s === 'warning' ? 'warn' : s === 'healthy' ? 'ok' : '');
  const check = (name: string) => d.data?.status.checks.find((c) => c.name === name)?.status;
  const firing = (d.data?.alerts ?? []).filter((a) => a.phase === 'firing' || a.phase === 'pending');
  return (
    <div class="grid">
      {/* the tiles are there from the start (showing – until the data comes), so nothing moves */}
      <SeriesLimits />
      <Panel title="Last 15 minutes" wide error={d.error}>
        <div class="stats">
          <Stat label="Status" value={d.data?.status.status ?? '–'} tone={tone(d.data?.status.status)} />
          <Stat label="Requests/s" value={num(m?.throughput.requestsPerSecond, 2)} hint={`${num(m?.throughput.requests, 0)} requests`} />
          <Stat label="p50" value={ms(m?.responseTime.p50)} />
          <Stat label="p95" value={ms(m?.responseTime.p95)} tone={tone(check('responseTime'))} />
          <Stat label="p99" value={ms(m?.responseTime.p99)} />
          <Stat label="Error rate" value={m?.errorRate.percentage == null ? '–' : `${num(m.errorRate.percentage, 2)}%`} hint={`${m?.errorRate.count ?? '–'} errors`} tone={tone(check('errorRate'))} />
          <Stat label="CPU" value={m?.resourceUsage.cpu == null ? '–' : `${num(m.resourceUsage.cpu, 1)}%`} tone={tone(check('cpuUsage'))} />
          <Stat label="Memory" value={m?.resourceUsage.memory == null ? '–' : `${num(m.resourceUsage.memory, 1)}%`} tone={tone(check('memoryUsage'))} />
        </div>
      </Panel>
      <QueryChart title="Requests per second" range={range} unit="req/s" queries={[{ metric: HTTP, aggregation: 'rate', window: '1m', label: 'requests/s' }]} />
      <QueryChart
        title="Response time"
        range={range}
        unit="ms"
        queries={[
          { metric: HTTP, aggregation: 'p50', window: '1m', label: 'p50' },
          { metric: HTTP, aggregation: 'p95', window: '1m', label: 'p95' },
          { metric: HTTP, aggregation: 'p99', window: '1m', label: 'p99' },
        ]}
      />
      <QueryChart title="Error rate" range={range} unit="1" queries={[{ metric: HTTP, aggregation: 'error_ratio', window: '1m', label: 'errors' }]} />
      <QueryChart
        title="CPU and memory"
        range={range}
        unit="1"
        queries={[
          { metric: 'process.cpu.utilization', aggregation: 'avg', window: '1m', label: 'CPU' },
          { metric: 'solemate.process.memory.utilization', aggregation: 'max', window: '1m', label: 'memory' },
        ]}
      />
      <Panel title="Service levels" class="reserve-list" error={d.error} loading={!d.data && d.loading}>
        {d.data && d.data.slos.length === 0 && <p class="muted">No SLOs configured (alerting.slos).</p>}
        <ul class="list">
          {d.data?.slos.map((s) => {
            const left = s.errorBudget.remaining;
            return (
              <li>
                <strong>{s.name}</strong> <span class="muted">objective {pct(s.objective, 3)} over {s.window}</span>
                <div>
                  SLI {s.sli === undefined ? '– (no events)' : pct(s.sli, 3)} · error budget left{' '}
                  <Badge tone={left === undefined ? '' : left < 0 ? 'bad' : left < 0.25 ? 'warn' : 'ok'}>{left === undefined ? '–' : pct(left, 1)}</Badge>
                </div>
                {left !== undefined && <meter min={0} max={1} low={0.25} optimum={1} value={Math.max(0, left)} aria-label={`${s.name} error budget left`} />}
              </li>
            );
          })}
        </ul>
      </Panel>
      <Panel title={`Alerts (${firing.length})`} class="reserve-list" error={d.error} loading={!d.data && d.loading}>
        {firing.length === 0 ? (
          <p class="ok-text">Nothing firing.</p>
        ) : (
          <ul class="list">
            {firing.map((a) => (
              <li>
                <Badge tone={a.phase === 'firing' ? (SEVERITY_TONE[a.labels.severity] ?? 'warn') : ''}>{a.phase}</Badge> <strong>{a.alert}</strong> <span class="muted">{Object.entries(a.labels).filter(([k]) => k !== 'alertname' && k !== 'severity').map(([k, v]) => `${k}=${v}`).join(', ')}</span>
                {a.annotations.summary && <div>{a.annotations.summary}</div>}
              </li>
            ))}
          </ul>
        )}
        <a href={withQuery('/alerts', params)} onClick={(e) => linkTo(e, withQuery('/alerts', params))}>
          All alerts →
        </a>
      </Panel>
      <Panel title="Top recommendations" wide error={recs.error} loading={!recs.data && recs.loading}>
        {recs.data && recs.data.recommendations.filter((r) => !r.appliedBy).length === 0 && <p class="ok-text">No recommendation: every analyzer passed (analyzed {time(recs.data.analyzedAt)}).</p>}
        <ol class="list">
          {recs.data?.recommendations.filter((r) => !r.appliedBy).slice(0, 3).map((r) => (
            <li>
              <Badge tone={SEVERITY_TONE[r.severity]}>{r.severity}</Badge> <strong>{r.title}</strong>
              <div class="muted">
                Estimated: {num(r.estimatedImprovement.value, 1)} {r.estimatedImprovement.unit} {r.estimatedImprovement.metric} — {r.estimatedImprovement.derivedFrom}
              </div>
            </li>
          ))}
        </ol>
        <a href={withQuery('/optimizations', params)} onClick={(e) => linkTo(e, withQuery('/optimizations', params))}>
          All recommendations →
        </a>
      </Panel>
      <Dashboards />
    </div>
  );
}
