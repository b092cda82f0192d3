// A dashboard as code (performance/dashboards/NAME.json): its panels in order on a 12-column grid.
// timeseries and stat panels run their queries; list panels link to the page that holds the list.
import { useApi } from '../api';
import { Panel, Stat } from '../components';
import { unit as fmtUnit } from '../format';
import { QueryChart, queryPath } from '../panels';
import type { Dashboard } from '../types';
import { linkTo, rangeQuery, useLocation, withQuery } from '../url';


const LIST_PAGES: Record<string, string> = { alerts: '/alerts', slos: '/', recommendations: '/optimizations', optimizations: '/optimizations', traces: '/routes', loadtests: '/loadtests', table: '/routes' };

function StatPanel(props: { p: Dashboard['panels'][number]; range: string }) {
  const q = props.p.queries[0];
  const r = useApi<{ samples: { labels: Record<string, string>; value: number }[] }>(queryPath(q, props.range, true));
  return (
    <Panel title={props.p.title} error={r.error} loading={!r.data && r.loading}>
      <div class="stats">
        {(r.data?.samples ?? []).map((s) => (
          <Stat label={Object.values(s.labels).join(' · ') || q.aggregation} value={fmtUnit(s.value, props.p.unit)} />
        ))}
        {r.data?.samples.length === 0 && <p class="muted">No data in this range.</p>}
      </div>
    </Panel>
  );
}

export function DashboardPage(props: { name: string }) {
  const { params } = useLocation();
  const range = rangeQuery(params);
  const all = useApi<{ dashboards: Dashboard[] }>('/api/dashboards', false);
  const d = all.data?.dashboards.find((x) => x.name === props.name);
  if (all.error) return <p class="error" role="alert">{all.error}</p>;
  if (!all.data) return <p class="muted loading">Loading…</p>;
  if (!d) return <p class="error" role="alert">No dashboard {props.name}: the server has {all.data.dashboards.map((x) => x.name).join(', ')}.</p>;
  return (
    <>
      <p class="muted">
        {d.title}
        {d.description ? ` — ${d.description}` : ''}
      </p>
      <div class="grid12">
        {d.panels.map((p) => (
          <div style={{ gridColumn: `span ${p.width}` }} key={p.id}>
            {p.type === 'timeseries' ? (
              <QueryChart title={p.title} range={range} unit={p.unit} queries={p.queries} height={Math.max(120, p.height * 24)} />
            ) : p.type === 'stat' ? (
              <StatPanel p={p} range={range} />
            ) : (
              <Panel title={p.title}>
                <a href={withQuery(LIST_PAGES[p.type] ?? '/', params)} onClick={(e) => linkTo(e, withQuery(LIST_PAGES[p.type] ?? '/', params))}>
                  Open {p.type} →
                </a>
              </Panel>
            )}
          </div>
        ))}
      </div>
    </>
  );
}
