// Trends: any stored metric over a period, with the direction from a robust fit and its
// significance (the server's getPerformanceTrends), and the change in %.
import { useApi } from '../api';
import { TimeChart } from '../chart';
import { Badge, Panel, Stat } from '../components';
import { num, pv } from '../format';
import type { Trend } from '../types';
import { setParams, useLocation } from '../url';

const PERIODS = ['1h', '6h', '24h', '7d', '30d'];
const STATISTICS = ['p50', 'p90', 'p95', 'p99', 'avg', 'max', 'rate', 'last'];

export function Trends() {
  const { params } = useLocation();
  const names = useApi<{ metrics: { name: string; kind: string; unit: string; series: number }[] }>('/api/metrics/names', false);
  const metric = params.get('metric') ?? names.data?.metrics.find((m) => m.name === 'http.server.request.duration')?.name ?? names.data?.metrics[0]?.name ?? null;
  const period = params.get('period') ?? '24h';
  const statistic = params.get('statistic') ?? '';
  const trend = useApi<Trend>(metric ? `/api/trends?metric=${encodeURIComponent(metric)}&period=${period}${statistic ? `&statistic=${statistic}` : ''}` : null);
  const t = trend.data;
  const unit = t?.unit === 's' || t?.unit === 'ms' ? 'ms' : undefined;
  return (
    <div class="grid">
      <Panel title="Metric" wide error={names.error} loading={!names.data && names.loading}>
        <div class="form-row">
          <label>
            Metric
            <select value={metric ?? ''} onChange={(e) => setParams({ metric: (e.target as HTMLSelectElement).value })}>
              {names.data?.metrics.map((m) => (
                <option value={m.name}>
                  {m.name} ({m.kind}, {m.series} series)
                </option>
              ))}
            </select>
          </label>
          <label>
            Period (any duration: 90m, 36h, 2w)
            <input list="periods" value={period} size={8} onChange={(e) => setParams({ period: (e.target as HTMLInputElement).value.trim() || null })} />
            <datalist id="periods">
              {PERIODS.map((p) => (
                <option value={p} />
              ))}
            </datalist>
          </label>
          <label>
            Statistic
            <select value={statistic} onChange={(e) => setParams({ statistic: (e.target as HTMLSelectElement).value })}>
              <option value="">default for the kind</option>
              {STATISTICS.map((s) => (
                <option value={s}>{s}</option>
              ))}
            </select>
          </label>
        </div>
        {names.data && names.data.metrics.length === 0 && <p class="muted">No metrics stored yet.</p>}
      </Panel>
      {metric && (
        <Panel title={`${metric} over ${period}`} wide error={trend.error} loading={!t && trend.loading}>
          {t && (
            <>
              <div class="stats">
                <Stat label="Direction" value={t.trend} tone={t.trend === 'degrading' ? 'bad' : t.trend === 'improving' ? 'ok' : ''} />
                <Stat label="Change" value={`${t.change > 0 ? '+' : ''}${num(t.change, 1)}%`} hint="of the fitted line, first to last point" />
                <Stat label="Significance" value={t.pValue === null ? '–' : `p ${pv(t.pValue)}`} hint={t.method} />
                <Stat label="Statistic" value={t.statistic} hint={`${t.dataPoints.length} points`} />
              </div>
              <p>
                <Badge tone={t.trend === 'degrading' ? 'bad' : t.trend === 'improving' ? 'ok' : ''}>{t.trend}</Badge> {num(t.slopePerHour, 4)} {t.unit} per hour
              </p>
              <TimeChart lines={[{ label: `${t.statistic} ${t.metricName}`, points: t.dataPoints.map((p) => [Date.parse(p.timestamp), unit === 'ms' && t.unit === 's' ? p.value * 1000 : p.value]) }]} unit={unit} height={260} label={`${t.metricName} trend chart`} />
            </>
          )}
        </Panel>
      )}
    </div>
  );
}
