// Panels that fetch their own data: a query over the selected range as a chart, and the same
// query's current values as a table.
import { useMemo } from 'preact/hooks';
import { useApi } from './api';
import { ChartBox, TimeChart, type Line } from './chart';
import { Panel, SortTable } from './components';
import { unit as fmtUnit } from './format';
import type { RangeSeries } from './types';

export interface QuerySpec {
  metric: string;
  aggregation: string;
  window?: string;
  by?: string[];
  filters?: { service?: string; instance?: string; route?: string; method?: string; status?: string; tags?: Record<string, string> };
  /** legend label when the query has no `by` */
  label?: string;
}

export function queryPath(q: QuerySpec, range: string, instant = false): string {
  const p = new URLSearchParams({ metric: q.metric, aggregation: q.aggregation, window: q.window ?? '5m' });
  if (q.by?.length) p.set('by', q.by.join(','));
  const { tags, ...named } = q.filters ?? {};
  for (const [k, v] of Object.entries(named)) if (v !== undefined) p.set(k, v);
  for (const [k, v] of Object.entries(tags ?? {})) p.set(`tag.${k}`, v);
  if (instant) p.set('instant', 'true');
  return `/api/query?${p.toString()}&${range}`;
}

const labelOf = (labels: Record<string, string>, fallback: string) => Object.values(labels).filter(Boolean).join(' · ') || fallback;

export function QueryChart(props: { title: string; queries: QuerySpec[]; unit?: string; range: string; wide?: boolean; height?: number }) {
  const results = props.queries.map((q) => useApi<{ series: RangeSeries[]; from: number; to: number; step: number }>(queryPath(q, props.range)));
  const first = results.find((r) => r.data)?.data;
  const error = results.find((r) => r.error)?.error;
  const loading = results.some((r) => r.loading && !r.data);
  const lines = useMemo<Line[]>(() => results.flatMap((r, i) => (r.data?.series ?? []).map((s) => ({ label: labelOf(s.labels, props.queries[i].label ?? `${props.queries[i].aggregation} ${props.queries[i].metric}`), points: s.points }))), results.map((r) => r.data));
  return (
    <Panel title={props.title} error={error} wide={props.wide}>
      {loading ? <ChartBox height={props.height}>Loading…</ChartBox> : <TimeChart lines={lines} unit={props.unit} height={props.height} label={`${props.title}: chart`} span={first ? [first.from, first.to] : undefined} step={first?.step} />}
    </Panel>
  );
}

export function QueryTable(props: { title: string; query: QuerySpec; unit?: string; range: string; valueLabel: string; wide?: boolean; limit?: number }) {
  const r = useApi<{ samples: { labels: Record<string, string>; value: number }[] }>(queryPath(props.query, props.range, true));
  const by = props.query.by ?? [];
  const rows = (r.data?.samples ?? []).sort((a, b) => b.value - a.value).slice(0, props.limit ?? 20);
  return (
    <Panel title={props.title} error={r.error} loading={r.loading && !r.data} wide={props.wide}>
      <SortTable
        caption={props.title}
        rows={rows}
        rowKey={(x) => JSON.stringify(x.labels)}
        sort="-value"
        empty="No data in this range."
        columns={[
          ...by.map((k) => ({ key: k, label: k, value: (x: (typeof rows)[number]) => x.labels[k] || '(none)', render: (x: (typeof rows)[number]) => <code class="wrap">{x.labels[k] || '(none)'}</code> })),
          { key: 'value', label: props.valueLabel, numeric: true, value: (x) => x.value, render: (x) => fmtUnit(x.value, props.unit) },
        ]}
      />
    </Panel>
  );
}
