// Which stored series a query covers. Named filters map to OpenTelemetry semantic-convention
// attributes; `tags` matches any attribute exactly.
import type { SeriesRow } from '../store/store.js';

export interface PerformanceFilters {
  from?: number | string | Date;
  to?: number | string | Date;
  service?: string;
  instance?: string;
  route?: string;
  method?: string;
  /** exact code ("503") or class ("5xx") */
  status?: string | number;
  tags?: Record<string, string>;
}

export function matchSeries(series: SeriesRow, f: PerformanceFilters, withRequestFilters: boolean): boolean {
  if (f.service !== undefined && series.service !== f.service) return false;
  if (f.instance !== undefined && series.instance !== f.instance) return false;
  if (!withRequestFilters) return true;
  const a = series.attributes;
  if (f.route !== undefined && a['http.route'] !== f.route) return false;
  if (f.method !== undefined && a['http.request.method'] !== f.method.toUpperCase()) return false;
  if (f.status !== undefined) {
    const want = String(f.status).toLowerCase();
    const got = a['http.response.status_code'] ?? '';
    if (/^[1-5]xx$/.test(want) ? got[0] !== want[0] || got.length !== 3 : got !== want) return false;
  }
  if (f.tags) for (const [k, v] of Object.entries(f.tags)) if (a[k] !== v) return false;
  return true;
}

/** Accepts Unix ms, ISO-8601, or relative "-15m" / "now". */
export function parseTime(v: number | string | Date | undefined, now: number, fallback: number): number {
  if (v === undefined || v === '') return fallback;
  if (v instanceof Date) return v.getTime();
  if (typeof v === 'number') return v;
  if (v === 'now') return now;
  const rel = /^-(\d+(?:\.\d+)?)(s|m|h|d|w)$/.exec(v);
  if (rel) return now - parseDuration(`${rel[1]}${rel[2]}`);
  if (/^\d+$/.test(v)) return Number(v);
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new RangeError(`cannot read time "${v}" (use Unix ms, ISO-8601, "now" or "-15m")`);
  return t;
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** "90s", "15m", "24h", "7d", "2w" → ms */
export function parseDuration(v: string): number {
  const m = /^(\d+(?:\.\d+)?)(s|m|h|d|w)$/.exec(v.trim());
  if (!m) throw new RangeError(`cannot read period "${v}" (use a number and s, m, h, d or w, e.g. "24h")`);
  const ms = Number(m[1]) * UNIT_MS[m[2]];
  if (ms <= 0) throw new RangeError(`period "${v}" must be positive`);
  return ms;
}
