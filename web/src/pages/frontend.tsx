// Frontend: real users' Web Vitals (POST /v1/rum). Per page and device the p75 of LCP, INP, CLS,
// FCP and TTFB (the figure Google reports) coloured by Google's thresholds, the share of page views
// rated good / needs improvement / poor, the page load time; p75 over time; and what the
// attribution names behind the worst values (the LCP element and its resource, the slowest
// interaction's target, the largest layout shift's source).
import { useState } from 'preact/hooks';
import { useApi } from '../api';
import { TimeChart } from '../chart';
import { Badge, Panel, SortTable } from '../components';
import { bytes, ms, num, pct } from '../format';
import { rangeQuery, useLocation } from '../url';
import type { LabRun, RevisionComparison, RumPage, RumReport, Vital, VitalFigures } from '../types';

const VITALS: Vital[] = ['LCP', 'INP', 'CLS', 'FCP', 'TTFB'];
/** Google's good / poor thresholds (web.dev/articles/vitals), as the server rates them (src/model/rum.ts) */
const THRESHOLDS: Record<Vital, [number, number]> = { LCP: [2500, 4000], INP: [200, 500], CLS: [0.1, 0.25], FCP: [1800, 3000], TTFB: [800, 1800] };
type Figures = VitalFigures;

const show = (v: Vital, x: number | undefined) => (x === undefined ? '—' : v === 'CLS' ? num(x, 3) : ms(x));
const tone = (v: Vital, x: number | undefined) => (x === undefined ? '' : x <= THRESHOLDS[v][0] ? 'ok' : x <= THRESHOLDS[v][1] ? 'warn' : 'bad');

function Rating(props: { f: Figures | undefined }) {
  const f = props.f;
  if (!f) return <span class="muted">—</span>;
  return (
    <span class="rating" title={`good ${pct(f.good, 0)}, needs improvement ${pct(f.needsImprovement, 0)}, poor ${pct(f.poor, 0)} of ${num(f.count, 0)}`}>
      <span class="rating-good" style={{ width: `${f.good * 100}%` }} />
      <span class="rating-ni" style={{ width: `${f.needsImprovement * 100}%` }} />
      <span class="rating-poor" style={{ width: `${f.poor * 100}%` }} />
    </span>
  );
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : undefined;
};

/**
 * Lighthouse (lab) beside real users for the same page: per URL and preset, the latest revision's
 * runs (median LCP, performance score) and the p75 LCP of real users on that page template and the
 * matching device class, with the URL's LCP over its stored runs.
 */
function LabBesideUsers(props: { pages: RumPage[] }) {
  const r = useApi<{ runs: LabRun[] }>('/api/lighthouse/runs?limit=500');
  const groups = new Map<string, LabRun[]>();
  for (const run of r.data?.runs ?? []) {
    const k = `${run.url} ${run.preset}`;
    groups.set(k, [...(groups.get(k) ?? []), run]);
  }
  const rows = [...groups.values()].map((runs) => {
    const latest = runs[runs.length - 1];
    const same = runs.filter((x) => x.revision === latest.revision);
    const users = props.pages.filter((p) => p.page === latest.page && p.device === latest.preset);
    const rum = users.length ? Math.max(...users.map((p) => p.vitals.LCP?.p75 ?? 0)) : undefined;
    return {
      key: `${latest.url} ${latest.preset}`,
      url: latest.url,
      page: latest.page,
      preset: latest.preset,
      revision: latest.revision,
      runs: same.length,
      labLcp: median(same.map((x) => x.metrics.largestContentfulPaint).filter((x): x is number => x !== undefined)),
      score: median(same.map((x) => x.categories.performance).filter((x): x is number => typeof x === 'number')),
      rumLcp: rum || undefined,
      history: runs.map((x) => [x.storedAt, x.metrics.largestContentfulPaint ?? 0] as [number, number]),
    };
  });
  return (
    <Panel title="Lab (Lighthouse) beside real users" wide error={r.error} loading={!r.data && r.loading}>
      <SortTable
        caption="Lighthouse runs beside real users' LCP"
        rows={rows}
        rowKey={(x) => x.key}
        sort="-labLcp"
        empty="No Lighthouse runs stored: solemate-perf lighthouse <url> --server <this server> (docs/cli.md#lighthouse)."
        columns={[
          { key: 'url', label: 'URL', value: (x) => x.url, render: (x) => <code class="wrap">{x.url}</code> },
          { key: 'page', label: 'Page', value: (x) => x.page, render: (x) => <code>{x.page}</code> },
          { key: 'preset', label: 'Preset', value: (x) => x.preset },
          { key: 'revision', label: 'Revision', value: (x) => x.revision ?? '', render: (x) => <code>{(x.revision ?? '—').slice(0, 10)}</code> },
          { key: 'score', label: 'Performance', numeric: true, value: (x) => x.score ?? null, render: (x) => (x.score === undefined ? '—' : num(x.score * 100, 0)) },
          { key: 'labLcp', label: `Lab LCP (median of runs)`, numeric: true, value: (x) => x.labLcp ?? null, render: (x) => <Badge tone={tone('LCP', x.labLcp)}>{show('LCP', x.labLcp)}</Badge> },
          { key: 'rumLcp', label: 'Real users LCP p75', numeric: true, value: (x) => x.rumLcp ?? null, render: (x) => <Badge tone={tone('LCP', x.rumLcp)}>{show('LCP', x.rumLcp)}</Badge> },
          { key: 'runs', label: 'Runs', numeric: true, value: (x) => x.runs },
        ]}
      />
      {rows.length > 0 && <TimeChart label="Lab LCP per stored run" lines={rows.slice(0, 8).map((x) => ({ label: `${x.url} (${x.preset})`, points: x.history }))} unit="ms" />}
    </Panel>
  );
}

type Comparison = RevisionComparison;

/** Two revisions of a URL's Lighthouse runs, per metric: medians and the Mann–Whitney test. */
function RevisionDiff() {
  const all = useApi<{ runs: LabRun[] }>('/api/lighthouse/runs?limit=500');
  const runs = all.data?.runs ?? [];
  const urls = [...new Set(runs.map((r) => r.url))];
  const [url, setUrl] = useState('');
  const chosen = url || urls[0] || '';
  const revisions = [...new Set(runs.filter((r) => r.url === chosen && r.revision).map((r) => r.revision!))];
  const [base, setBase] = useState('');
  const [head, setHead] = useState('');
  const b = base || revisions[revisions.length - 2] || '';
  const h = head || revisions[revisions.length - 1] || '';
  const c = useApi<Comparison>(chosen && b && h && b !== h ? `/api/lighthouse/compare?url=${encodeURIComponent(chosen)}&base=${encodeURIComponent(b)}&head=${encodeURIComponent(h)}` : null, false);
  const pick = (value: string, set: (v: string) => void, options: string[], label: string) => (
    <label>
      {label}{' '}
      <select value={value} onChange={(e) => set((e.target as HTMLSelectElement).value)}>
        {options.map((o) => (
          <option value={o}>{o.length > 40 ? `${o.slice(0, 40)}…` : o}</option>
        ))}
      </select>
    </label>
  );
  return (
    <Panel title="Lighthouse: two revisions compared" wide error={c.error} loading={c.loading && !c.data}>
      {revisions.length < 2 ? (
        <p class="muted">Runs of two revisions of a URL are needed: solemate-perf lighthouse &lt;url&gt; --server &lt;this server&gt; --revision &lt;sha&gt;, before and after a change.</p>
      ) : (
        <>
          <p>
            {pick(chosen, setUrl, urls, 'URL')} {pick(b, setBase, revisions, 'Base')} {pick(h, setHead, revisions, 'Head')}
          </p>
          <SortTable
            caption="Lighthouse metrics of two revisions"
            rows={c.data?.metrics ?? []}
            rowKey={(m) => m.metric}
            columns={[
              { key: 'metric', label: 'Metric', value: (m) => m.metric },
              { key: 'base', label: 'Base median', numeric: true, value: (m) => m.base?.median ?? null, render: (m) => (m.metric === 'cumulativeLayoutShift' ? num(m.base?.median, 3) : ms(m.base?.median)) },
              { key: 'head', label: 'Head median', numeric: true, value: (m) => m.head?.median ?? null, render: (m) => (m.metric === 'cumulativeLayoutShift' ? num(m.head?.median, 3) : ms(m.head?.median)) },
              { key: 'runs', label: 'Runs', numeric: true, value: (m) => m.base?.runs ?? 0, render: (m) => `${m.base?.runs ?? 0} / ${m.head?.runs ?? 0}` },
              { key: 'p', label: 'p (Mann–Whitney)', numeric: true, value: (m) => m.p ?? null, render: (m) => (m.p === undefined ? '—' : num(m.p, 3)) },
              { key: 'verdict', label: 'Verdict', value: (m) => m.direction ?? '', render: (m) => (m.significant ? <Badge tone={m.direction === 'better' ? 'ok' : 'bad'}>{m.direction}</Badge> : <span class="muted">no significant change</span>) },
            ]}
          />
          {c.data && <p class="muted">{c.data.derivedFrom}.</p>}
        </>
      )}
    </Panel>
  );
}

export function Frontend() {
  const { params } = useLocation();
  const [vital, setVital] = useState<Vital>('LCP');
  const [device, setDevice] = useState('');
  const q = `/api/rum?${rangeQuery(params)}&vital=${vital}${device ? `&device=${device}` : ''}`;
  const r = useApi<RumReport>(q);
  const pages = r.data?.pages ?? [];
  const key = (p: { service: string; page: string; device?: string }) => `${p.service} ${p.page}${p.device ? ` (${p.device})` : ''}`;
  const lines = (r.data?.chart.series ?? []).slice(0, 8).map((s) => ({ label: key(s), points: s.points.filter((x): x is [number, number] => x[1] !== null) }));
  const views = pages.reduce((n, p) => n + (p.loadTime?.count ?? 0), 0);
  return (
    <div class="grid">
      <Panel
        title="Real users: Web Vitals by page (p75)"
        wide
        error={r.error}
        loading={!r.data && r.loading}
        actions={
          <label>
            Device{' '}
            <select value={device} onChange={(e) => setDevice((e.target as HTMLSelectElement).value)}>
              <option value="">all</option>
              <option value="mobile">mobile</option>
              <option value="tablet">tablet</option>
              <option value="desktop">desktop</option>
            </select>
          </label>
        }
      >
        <SortTable
          caption="Web Vitals per page and device"
          rows={pages}
          rowKey={(p) => key(p)}
          sort="-lcp"
          empty={'No page views in this range. Add the snippet to your pages: <script src="https://<this server>/rum.js" data-service="shop" defer></script> (docs/frontend.md).'}
          columns={[
            { key: 'page', label: 'Page', value: (p) => key(p), render: (p) => <code>{key(p)}</code> },
            ...VITALS.map((v) => ({ key: v.toLowerCase(), label: `${v} p75`, numeric: true, value: (p: RumPage) => p.vitals[v]?.p75 ?? null, render: (p: RumPage) => <Badge tone={tone(v, p.vitals[v]?.p75)}>{show(v, p.vitals[v]?.p75)}</Badge> })),
            { key: 'rating', label: `${vital} ratings`, value: (p) => p.vitals[vital]?.good ?? null, render: (p) => <Rating f={p.vitals[vital]} /> },
            { key: 'load', label: 'Load p75', numeric: true, value: (p) => p.loadTime?.p75 ?? null, render: (p) => ms(p.loadTime?.p75) },
            { key: 'bytes', label: 'Bytes p75', numeric: true, value: (p) => p.transferBytes?.p75 ?? null, render: (p) => bytes(p.transferBytes?.p75) },
            { key: 'views', label: 'Page views', numeric: true, value: (p) => p.loadTime?.count ?? p.vitals.LCP?.count ?? 0, render: (p) => num(p.loadTime?.count ?? p.vitals.LCP?.count ?? 0, 0) },
          ]}
        />
        <p class="muted">{r.data ? `${num(views, 0)} page views with a load time. ${r.data.derivedFrom}.` : ''}</p>
      </Panel>
      <Panel
        title={`${vital} p75 over time`}
        wide
        actions={
          <label>
            Vital{' '}
            <select value={vital} onChange={(e) => setVital((e.target as HTMLSelectElement).value as Vital)}>
              {VITALS.map((v) => (
                <option value={v}>{v}</option>
              ))}
            </select>
          </label>
        }
      >
        <TimeChart label={`${vital} p75 per page`} lines={lines} unit={vital === 'CLS' ? undefined : 'ms'} step={r.data?.chart.step} />
      </Panel>
      <LabBesideUsers pages={pages} />
      <RevisionDiff />
      <Panel title="What the worst values point at" wide>
        <SortTable
          caption="Attribution of the worst values"
          rows={r.data?.attribution ?? []}
          rowKey={(a) => `${a.service} ${a.page} ${a.vital} ${a.target}`}
          sort="-p75"
          empty="No attribution yet: LCP, INP and CLS name their element once page views report them."
          columns={[
            { key: 'page', label: 'Page', value: (a) => `${a.service} ${a.page}`, render: (a) => <code>{`${a.service} ${a.page}`}</code> },
            { key: 'vital', label: 'Vital', value: (a) => a.vital },
            { key: 'target', label: 'Element', value: (a) => a.target, render: (a) => <code class="wrap">{a.target}</code> },
            { key: 'resource', label: 'Resource', value: (a) => a.resource ?? '', render: (a) => (a.resource ? <code class="wrap">{a.resource}</code> : '') },
            { key: 'p75', label: 'p75', numeric: true, value: (a) => a.p75, render: (a) => <Badge tone={tone(a.vital, a.p75)}>{show(a.vital, a.p75)}</Badge> },
            { key: 'count', label: 'Page views', numeric: true, value: (a) => a.count, render: (a) => num(a.count, 0) },
          ]}
        />
      </Panel>
    </div>
  );
}
