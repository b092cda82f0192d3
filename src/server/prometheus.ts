// GET /metrics: everything ingested, re-exposed for Prometheus as cumulative series (the
// delta → cumulative step of the OpenTelemetry collector's prometheus exporter), named by the
// OpenTelemetry → Prometheus compatibility rules and kept lint-clean for `promtool check metrics`:
// snake_case, base units (ms become seconds), `_total` on counters, HELP on every family.
import { ExpHistogram, bucketRepresentative } from '../model/histogram.js';
import type { MetricPoint } from '../model/metrics.js';
import { promName, snake } from '../model/prometheus.js';

interface Family {
  name: string;
  type: 'counter' | 'gauge' | 'histogram';
  help: string;
  scale: number;
  bounds: number[];
  series: Map<string, Entry>;
}

interface Entry {
  labels: string;
  value: number;
  hist?: ExpHistogram;
}

export class PrometheusView {
  private readonly families = new Map<string, Family>();
  private size = 0;
  /** points of series past maxSeries, not shown (solemate_perf_prometheus_view_dropped_points_total) */
  dropped = 0;

  constructor(readonly maxSeries = 50_000) {}

  add(points: MetricPoint[]): void {
    for (const p of points) {
      const fam = this.family(p);
      if (!fam) continue;
      const labels = formatLabels({ service_name: p.service, service_instance_id: p.instance, ...p.attributes });
      let e = fam.series.get(labels);
      if (!e) {
        if (this.size >= this.maxSeries) {
          this.dropped++;
          continue;
        }
        e = { labels, value: 0 };
        fam.series.set(labels, e);
        this.size++;
      }
      if (p.kind === 'counter') e.value += p.sum;
      else if (p.kind === 'gauge') e.value = p.last;
      else if (p.hist) {
        e.hist ??= new ExpHistogram();
        e.hist.merge({ count: p.count, sum: p.sum, min: p.min, max: p.max, hist: p.hist });
      }
    }
  }

  private family(p: MetricPoint): Family | undefined {
    const key = `${p.metric}\u0000${p.kind}`;
    const found = this.families.get(key);
    if (found) return found;
    const { name, scale, bounds } = promName(p.metric, p.unit, p.kind);
    for (const f of this.families.values()) if (f.name === name) return undefined; // a clash after sanitising: keep the first
    const fam: Family = { name, type: p.kind, help: p.description || `${p.metric} (${p.unit || 'no unit'})`, scale, bounds, series: new Map() };
    this.families.set(key, fam);
    return fam;
  }

  /** Text exposition format 0.0.4, whole. `extra` lines (self-metrics) are appended as given. */
  render(extra: string[] = []): string {
    return [...this.chunks(extra)].join('');
  }

  /**
   * The same text in pieces of about CHUNK_LINES lines, made as they are read: /metrics streams them,
   * so 10,000 histogram series (~37 MB of text) never sit in memory as one string, and the event loop
   * turns between pieces.
   */
  *chunks(extra: string[] = []): Generator<string> {
    let out: string[] = [];
    const flush = () => {
      const text = out.join('\n') + '\n';
      out = [];
      return text;
    };
    for (const f of this.families.values()) {
      if (f.series.size === 0) continue;
      out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
      for (const e of f.series.values()) {
        if (out.length >= CHUNK_LINES) yield flush();
        if (f.type !== 'histogram') {
          out.push(`${f.name}${e.labels} ${num(e.value)}`);
          continue;
        }
        const h = e.hist;
        if (!h) continue;
        const data = h.toData();
        let cum = data.zeroCount;
        let i = 0;
        const inner = e.labels.slice(1, -1);
        for (const b of f.bounds) {
          while (i < data.counts.length && bucketRepresentative(data.offset + i, data.scale) * f.scale <= b) cum += data.counts[i++];
          out.push(`${f.name}_bucket{${inner ? `${inner},` : ''}le="${b}"} ${cum}`);
        }
        out.push(`${f.name}_bucket{${inner ? `${inner},` : ''}le="+Inf"} ${h.count}`);
        out.push(`${f.name}_sum${e.labels} ${num(h.sum * f.scale)}`, `${f.name}_count${e.labels} ${h.count}`);
      }
    }
    out.push(...extra);
    if (out.length) yield flush();
  }
}

const CHUNK_LINES = 2000;

export function formatLabels(labels: Record<string, string>): string {
  const parts: string[] = [];
  const seen = new Set<string>();
  for (const k of Object.keys(labels).sort()) {
    const name = snake(k);
    if (seen.has(name) || name === 'le' || name.startsWith('__')) continue;
    seen.add(name);
    parts.push(`${name}="${escapeLabel(labels[k])}"`);
  }
  return parts.length ? `{${parts.join(',')}}` : '';
}

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
const escapeHelp = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const num = (v: number) => (Number.isFinite(v) ? String(v) : v > 0 ? '+Inf' : v < 0 ? '-Inf' : 'NaN');
