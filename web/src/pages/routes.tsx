// Routes: every route with its p95, throughput, error rate and share of the time spent serving;
// a route opens its latency heatmap, percentiles over time and slowest traces; a trace opens its
// span waterfall. Sort, route and trace are in the URL.
import { useApi } from '../api';
import { Heatmap } from '../chart';
import { Panel, SortTable } from '../components';
import { ms, num, pct, time } from '../format';
import { QueryChart } from '../panels';
import type { HeatmapAnswer, RouteRow, TraceDetail, TraceSummary } from '../types';
import { rangeQuery, setParams, useLocation } from '../url';
import { Waterfall } from '../waterfall';

const HTTP = 'http.server.request.duration';

export function Routes() {
  const { params } = useLocation();
  const range = rangeQuery(params);
  const route = params.get('route');
  const trace = params.get('trace');
  const table = useApi<{ routes: RouteRow[] }>(`/api/routes?${range}`);
  return (
    <div class="grid">
      <Panel title="Routes" wide error={table.error} loading={!table.data && table.loading}>
        <SortTable
          caption="Routes by share of time"
          rows={table.data?.routes ?? []}
          rowKey={(r) => r.route}
          sort={params.get('sort') ?? '-timeShare'}
          onSort={(s) => setParams({ sort: s })}
          onRow={(r) => setParams({ route: r.route, trace: null }, true)}
          empty="No requests recorded in this range. Instrument an app (README, 'Instrument an app') or widen the range."
          columns={[
            { key: 'route', label: 'Route', value: (r) => r.route, render: (r) => <code class="wrap">{r.route}</code> },
            { key: 'p95Ms', label: 'p95', numeric: true, value: (r) => r.p95Ms, render: (r) => ms(r.p95Ms) },
            { key: 'p99Ms', label: 'p99', numeric: true, value: (r) => r.p99Ms, render: (r) => ms(r.p99Ms) },
            { key: 'requestsPerSecond', label: 'Requests/s', numeric: true, value: (r) => r.requestsPerSecond, render: (r) => num(r.requestsPerSecond, r.requestsPerSecond < 1 ? 3 : 1) },
            { key: 'errorRatio', label: 'Errors', numeric: true, value: (r) => r.errorRatio, render: (r) => pct(r.errorRatio) },
            { key: 'timeShare', label: 'Share of time', numeric: true, value: (r) => r.timeShare, render: (r) => pct(r.timeShare, 1) },
          ]}
        />
      </Panel>
      {route !== null && <RouteDetail route={route} range={range} trace={trace} />}
    </div>
  );
}

function RouteDetail(props: { route: string; range: string; trace: string | null }) {
  const q = encodeURIComponent(props.route);
  const heat = useApi<HeatmapAnswer>(`/api/routes/heatmap?route=${q}&${props.range}`);
  const traces = useApi<{ traces: TraceSummary[] }>(`/api/traces?route=${q}&limit=10&${props.range}`);
  const trace = useApi<TraceDetail>(props.trace ? `/api/traces/${encodeURIComponent(props.trace)}` : null, false);
  return (
    <>
      <Panel
        title={`Latency heatmap: ${props.route}`}
        wide
        error={heat.error}
        loading={!heat.data && heat.loading}
        actions={
          <button type="button" onClick={() => setParams({ route: null, trace: null }, true)}>
            Close
          </button>
        }
      >
        {heat.data && <Heatmap times={heat.data.times} bins={heat.data.bins} counts={heat.data.counts} label={`Latency heatmap of ${props.route}`} />}
      </Panel>
      <QueryChart
        title={`Percentiles: ${props.route}`}
        range={props.range}
        unit="ms"
        queries={['p50', 'p95', 'p99'].map((a) => ({ metric: HTTP, aggregation: a, window: '1m', filters: { route: props.route }, label: a }))}
      />
      <Panel title="Slowest traces" error={traces.error} loading={!traces.data && traces.loading}>
        <SortTable
          caption="Slowest traces of this route"
          rows={traces.data?.traces ?? []}
          rowKey={(t) => t.traceId}
          sort="-duration"
          onRow={(t) => setParams({ trace: t.traceId }, true)}
          empty="No traces kept for this route in this range (errors and the slowest requests are kept)."
          columns={[
            { key: 'start', label: 'When', value: (t) => t.start, render: (t) => time(t.start) },
            { key: 'duration', label: 'Duration', numeric: true, value: (t) => t.duration, render: (t) => ms(t.duration) },
            { key: 'spans', label: 'Spans', numeric: true, value: (t) => t.spans },
            { key: 'error', label: 'Error', value: (t) => (t.error ? 'yes' : ''), render: (t) => (t.error ? 'error' : '') },
          ]}
        />
      </Panel>
      {props.trace && (
        <Panel title={`Trace ${props.trace}`} wide error={trace.error} loading={!trace.data && trace.loading}>
          {trace.data && <Waterfall trace={trace.data} />}
        </Panel>
      )}
    </>
  );
}
