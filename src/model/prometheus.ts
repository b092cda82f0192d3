// How our metric names read in Prometheus: the OpenTelemetry → Prometheus compatibility rules
// (snake_case, base units with ms as seconds, `_total` on counters) and the buckets a family is
// exposed with. Shared by the /metrics exposition (server/prometheus.ts) and the rule exports
// (alerts/export.ts), so a rule names the series that /metrics exposes.
import type { MetricKind } from './metrics.js';

/** OpenTelemetry semconv's advisory buckets for http.server.request.duration (seconds). */
const SECONDS_BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
const BYTES_BOUNDS = [64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216];
const GENERIC_BOUNDS = [0.001, 0.01, 0.1, 1, 10, 100, 1000, 10000, 100000, 1000000];

export function promName(metric: string, unit: string, kind: MetricKind): { name: string; scale: number; bounds: number[] } {
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
