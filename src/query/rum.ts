// Real-user figures over a range, from the histograms /v1/rum stores: per page and device, each
// vital's p75 (the figure Google and the RUM vendors report) and its good / needs-improvement /
// poor shares by Google's thresholds; the page load time (load event end) and bytes; p75 over
// time for a chart; and the attribution targets behind the worst values.
import { ATTRIBUTED_METRIC, PAGE_METRICS, WEB_VITALS, type WebVitalName } from '../model/rum.js';
import type { Row } from '../store/rows.js';
import type { SeriesRow } from '../store/store.js';
import type { QueryEngine } from './engine.js';
import { mergeRows } from './metrics.js';

export interface VitalFigures {
  p75: number;
  count: number;
  /** shares (0–1) of values within Google's good threshold, between, and above the poor one */
  good: number;
  needsImprovement: number;
  poor: number;
}

export interface RumPage {
  service: string;
  page: string;
  device: string;
  vitals: Partial<Record<WebVitalName, VitalFigures>>;
  /** load event end, ms: p75 and the page views that reported it */
  loadTime?: { p75: number; p50: number; count: number };
  transferBytes?: { p75: number };
  resources?: { p75: number };
}

export interface RumAttribution {
  service: string;
  page: string;
  vital: WebVitalName;
  target: string;
  resource?: string;
  count: number;
  p75: number;
}

export interface RumReport {
  from: number;
  to: number;
  pages: RumPage[];
  /** p75 of one vital (default LCP) per page × device, in `step` ms buckets */
  chart: { vital: WebVitalName; step: number; series: { service: string; page: string; device: string; points: [t: number, p75: number | null][] }[] };
  /** per page and vital, the targets with the highest p75 first (at most 5 each) */
  attribution: RumAttribution[];
  derivedFrom: string;
}

export interface RumFilters {
  from: number;
  to: number;
  service?: string;
  page?: string;
  device?: string;
  /** the chart's vital */
  vital?: WebVitalName;
}

const VITALS = Object.keys(WEB_VITALS) as WebVitalName[];
const CHART_POINTS = 60;

export function figures(rows: Row[], vital: WebVitalName): VitalFigures | undefined {
  const h = mergeRows(rows);
  if (h.count === 0) return undefined;
  const { good, poor } = WEB_VITALS[vital];
  const atGood = h.countAtOrBelow(good);
  const atPoor = h.countAtOrBelow(poor);
  return { p75: h.quantile(0.75), count: h.count, good: atGood / h.count, needsImprovement: (atPoor - atGood) / h.count, poor: (h.count - atPoor) / h.count };
}

export async function rumReport(engine: QueryEngine, f: RumFilters): Promise<RumReport> {
  const keep = (s: SeriesRow) => (f.service === undefined || s.service === f.service) && (f.page === undefined || s.attributes.page === f.page) && (f.device === undefined || s.attributes.device === f.device);
  const read = async (metric: string) => {
    const series = (await engine.series(metric)).filter(keep);
    const rows = await engine.readRange(
      series.map((s) => s.id),
      f.from,
      f.to,
    );
    const bySeries = new Map<number, Row[]>();
    for (const r of rows) {
      let list = bySeries.get(r.seriesId);
      if (!list) bySeries.set(r.seriesId, (list = []));
      list.push(r);
    }
    return { series, bySeries };
  };
  const pages = new Map<string, RumPage>();
  const pageOf = (s: SeriesRow) => {
    const key = `${s.service}\u001f${s.attributes.page}\u001f${s.attributes.device}`;
    let p = pages.get(key);
    if (!p) pages.set(key, (p = { service: s.service, page: s.attributes.page ?? '', device: s.attributes.device ?? '', vitals: {} }));
    return p;
  };
  const chartVital = f.vital ?? 'LCP';
  const step = Math.max(60_000, Math.ceil((f.to - f.from) / CHART_POINTS / 60_000) * 60_000);
  const chart: RumReport['chart'] = { vital: chartVital, step, series: [] };
  let beacons = 0;
  for (const vital of VITALS) {
    const { series, bySeries } = await read(WEB_VITALS[vital].metric);
    for (const s of series) {
      const rows = bySeries.get(s.id) ?? [];
      const fig = figures(rows, vital);
      if (!fig) continue;
      pageOf(s).vitals[vital] = fig;
      beacons += fig.count;
      if (vital === chartVital) chart.series.push({ service: s.service, page: s.attributes.page ?? '', device: s.attributes.device ?? '', points: buckets(rows, f.from, f.to, step) });
    }
  }
  for (const [key, metric] of Object.entries(PAGE_METRICS) as [keyof typeof PAGE_METRICS, (typeof PAGE_METRICS)[keyof typeof PAGE_METRICS]][]) {
    const { series, bySeries } = await read(metric.metric);
    for (const s of series) {
      const h = mergeRows(bySeries.get(s.id) ?? []);
      if (h.count === 0) continue;
      const p = pageOf(s);
      if (key === 'loadTime') p.loadTime = { p75: h.quantile(0.75), p50: h.quantile(0.5), count: h.count };
      else p[key] = { p75: h.quantile(0.75) };
    }
  }
  const attribution: RumAttribution[] = [];
  const { series, bySeries } = await read(ATTRIBUTED_METRIC);
  const groups = new Map<string, RumAttribution[]>();
  for (const s of series) {
    const h = mergeRows(bySeries.get(s.id) ?? []);
    if (h.count === 0) continue;
    const a: RumAttribution = { service: s.service, page: s.attributes.page ?? '', vital: s.attributes.vital as WebVitalName, target: s.attributes.target ?? '', resource: s.attributes.resource, count: h.count, p75: h.quantile(0.75) };
    const key = `${a.service}\u001f${a.page}\u001f${a.vital}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = []));
    g.push(a);
  }
  for (const g of groups.values()) attribution.push(...g.sort((a, b) => b.p75 - a.p75).slice(0, 5));
  const list = [...pages.values()].sort((a, b) => (b.vitals.LCP?.p75 ?? -1) - (a.vitals.LCP?.p75 ?? -1) || a.page.localeCompare(b.page));
  return { from: f.from, to: f.to, pages: list, chart, attribution, derivedFrom: `${beacons} vital values from real page views (POST /v1/rum), merged per page and device from stored histograms (≤ 0.54% quantile error); shares by Google's thresholds (web.dev/articles/vitals)` };
}

/** p75 per step of a series' rows (null where it has none). */
function buckets(rows: Row[], from: number, to: number, step: number): [number, number | null][] {
  const start = Math.floor(from / step) * step;
  const out: [number, number | null][] = [];
  let i = 0;
  for (let t = start; t < to; t += step) {
    const inStep: Row[] = [];
    while (i < rows.length && rows[i].t < t + step) {
      if (rows[i].t >= t) inStep.push(rows[i]);
      i++;
    }
    const h = mergeRows(inStep);
    out.push([t, h.count ? h.quantile(0.75) : null]);
  }
  return out;
}
