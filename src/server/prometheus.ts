// GET /metrics: everything ingested, re-exposed for Prometheus as cumulative series (the
// delta → cumulative step of the OpenTelemetry collector's prometheus exporter), named by the
// OpenTelemetry → Prometheus compatibility rules and kept lint-clean for `promtool check metrics`:
// snake_case, base units (ms become seconds), `_total` on counters, HELP on every family.
import { ExpHistogram, bucketRepresentative } from '../sdk/histogram.js';
import type { MetricPoint } from '../model.js';

/** OpenTelemetry semconv's advisory buckets for http.server.request.duration (seconds). */
const SECONDS_BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
const BYTES_BOUNDS = [64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216];
const GENERIC_BOUNDS = [0.001, 0.01, 0.1, 1, 10, 100, 1000, 10000, 100000, 1000000];

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

  constructor(private readonly maxSeries = 50_000) {}

  add(points: MetricPoint[]): void {
    for (const p of points) {
      const fam = this.family(p);
      if (!fam) continue;
      const labels = formatLabels({ service_name: p.service, service_instance_id: p.instance, ...p.attributes });
      let e = fam.series.get(labels);
      if (!e) {
        if (this.size >= this.maxSeries) continue;
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

  /** Text exposition format 0.0.4. `extra` lines (self-metrics) are appended as given. */
  render(extra: string[] = []): string {
    const out: string[] = [];
    for (const f of this.families.values()) {
      if (f.series.size === 0) continue;
      out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`, `# TYPE ${f.name} ${f.type}`);
      for (const e of f.series.values()) {
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
    return out.concat(extra).join('\n') + '\n';
  }
}

export function promName(metric: string, unit: string, kind: MetricPoint['kind']): { name: string; scale: number; bounds: number[] } {
  let name = snake(metric);
  let scale = 1;
  let bounds = GENERIC_BOUNDS;
  let suffix = '';
  if (unit === 's' || unit === 'ms' || unit === 'us') {
    suffix = 'seconds';
    scale = unit === 'ms' ? 1e-3 : unit === 'us' ? 1e-6 : 1;
    bounds = SECONDS_BOUNDS;
    name = name.replace(/_(ms|milliseconds|us|microseconds)$/, '');
  } else if (unit === 'By') {
    suffix = 'bytes';
    bounds = BYTES_BOUNDS;
  } else if (unit === '1' && kind === 'gauge') suffix = 'ratio';
  if (suffix && !name.endsWith(`_${suffix}`)) name += `_${suffix}`;
  if (kind === 'counter') name = name.replace(/_total$/, '') + '_total';
  else name = name.replace(/_total$/, '');
  return { name, scale, bounds };
}

/** camelCase and dots → snake_case; anything outside [a-z0-9_] → "_"; no leading digit. */
export function snake(s: string): string {
  let out = s
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_')
    .replace(/_+/g, '_')
    .replace(/^_|_$/g, '');
  if (/^[0-9]/.test(out)) out = `_${out}`;
  return out || 'unnamed';
}

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
