// Database and cache: the statements that take the most time (from the app's own pg
// instrumentation), cache hit ratios (app caches, PostgreSQL buffer cache, Redis) and pool usage.
import { useApi } from '../api';
import { Panel, SortTable } from '../components';
import { ms, num, pct } from '../format';
import { QueryChart, queryPath, type QuerySpec } from '../panels';
import { rangeQuery, useLocation } from '../url';

type Samples = { samples: { labels: Record<string, string>; value: number }[] };
const DB = 'db.client.operation.duration';

function TopQueries(props: { range: string }) {
  const q = (aggregation: string): QuerySpec => ({ metric: DB, aggregation, window: '1m', by: ['db.query.text'] });
  const count = useApi<Samples>(queryPath(q('count'), props.range, true));
  const avg = useApi<Samples>(queryPath(q('avg'), props.range, true));
  const p95 = useApi<Samples>(queryPath(q('p95'), props.range, true));
  const by = (r: typeof avg) => new Map((r.data?.samples ?? []).map((s) => [s.labels['db.query.text'], s.value]));
  const [a, p] = [by(avg), by(p95)];
  const rows = (count.data?.samples ?? []).map((s) => {
    const text = s.labels['db.query.text'] || '(no statement text)';
    const mean = a.get(s.labels['db.query.text']) ?? 0;
    return { text, calls: s.value, avg: mean, p95: p.get(s.labels['db.query.text']) ?? null, total: s.value * mean };
  });
  const sum = rows.reduce((x, r) => x + r.total, 0);
  const error = count.error ?? avg.error ?? p95.error;
  return (
    <Panel title="Top queries by total time" wide error={error} loading={!count.data && count.loading}>
      <SortTable
        caption="Statements by total time"
        rows={rows.sort((x, y) => y.total - x.total).slice(0, 25)}
        rowKey={(r) => r.text}
        sort="-total"
        empty="No database calls recorded in this range (instrumentPg in the app records them)."
        columns={[
          { key: 'text', label: 'Statement', value: (r) => r.text, render: (r) => <code class="wrap">{r.text}</code> },
          { key: 'calls', label: 'Calls', numeric: true, value: (r) => r.calls, render: (r) => num(r.calls, 0) },
          { key: 'avg', label: 'Mean', numeric: true, value: (r) => r.avg, render: (r) => ms(r.avg) },
          { key: 'p95', label: 'p95', numeric: true, value: (r) => r.p95, render: (r) => ms(r.p95) },
          { key: 'total', label: 'Total', numeric: true, value: (r) => r.total, render: (r) => ms(r.total) },
          { key: 'share', label: 'Share', numeric: true, value: (r) => (sum ? r.total / sum : 0), render: (r) => pct(sum ? r.total / sum : 0, 1) },
        ]}
      />
    </Panel>
  );
}

function CacheRatios(props: { range: string }) {
  const app = useApi<Samples>(queryPath({ metric: 'solemate.cache.requests', aggregation: 'count', window: '1m', by: ['cache.prefix', 'cache.result'] }, props.range, true));
  const pg = useApi<Samples>(queryPath({ metric: 'postgresql.cache.hit_ratio', aggregation: 'last', window: '1m' }, props.range, true));
  const redis = useApi<Samples>(queryPath({ metric: 'redis.keyspace.hit_ratio', aggregation: 'last', window: '1m' }, props.range, true));
  const prefixes = new Map<string, { hits: number; misses: number }>();
  for (const s of app.data?.samples ?? []) {
    const p = prefixes.get(s.labels['cache.prefix']) ?? { hits: 0, misses: 0 };
    if (s.labels['cache.result'] === 'hit') p.hits += s.value;
    else p.misses += s.value;
    prefixes.set(s.labels['cache.prefix'], p);
  }
  const rows = [...prefixes].map(([prefix, c]) => ({ name: `app cache ${prefix || '(no prefix)'}`, ratio: c.hits / Math.max(1, c.hits + c.misses), lookups: c.hits + c.misses }));
  const last = (r: typeof pg, name: string) => (r.data?.samples.length ? [{ name, ratio: r.data.samples[0].value, lookups: null as number | null }] : []);
  return (
    <Panel title="Cache hit ratios" error={app.error} loading={!app.data && app.loading}>
      <SortTable
        caption="Cache hit ratios"
        rows={[...rows, ...last(pg, 'PostgreSQL buffer cache'), ...last(redis, 'Redis keyspace')]}
        rowKey={(r) => r.name}
        sort="+ratio"
        empty="No cache data in this range (the Cache helper, the PostgreSQL and Redis collectors report it)."
        columns={[
          { key: 'name', label: 'Cache', value: (r) => r.name },
          { key: 'ratio', label: 'Hit ratio', numeric: true, value: (r) => r.ratio, render: (r) => pct(r.ratio, 1) },
          { key: 'lookups', label: 'Lookups', numeric: true, value: (r) => r.lookups, render: (r) => num(r.lookups, 0) },
        ]}
      />
    </Panel>
  );
}

export function Database() {
  const { params } = useLocation();
  const range = rangeQuery(params);
  return (
    <div class="grid">
      <TopQueries range={range} />
      <CacheRatios range={range} />
      <QueryChart title="Cache lookups per second" range={range} unit="req/s" queries={[{ metric: 'solemate.cache.requests', aggregation: 'rate', window: '1m', by: ['cache.result'] }]} />
      <QueryChart title="Pool connections" range={range} queries={[{ metric: 'db.client.connection.count', aggregation: 'avg', window: '1m', by: ['db.client.connection.state'] }, { metric: 'db.client.connection.pending_requests', aggregation: 'max', window: '1m', label: 'waiting' }]} />
      <QueryChart title="Wait for a connection (p95)" range={range} unit="ms" queries={[{ metric: 'db.client.connection.wait_time', aggregation: 'p95', window: '1m', by: ['db.client.connection.pool.name'] }]} />
      <QueryChart title="Database operations p95 by table" range={range} unit="ms" queries={[{ metric: DB, aggregation: 'p95', window: '5m', by: ['db.collection.name'] }]} />
    </div>
  );
}
