// GET / — a first status page, rendered on the server (the live dashboard is a later issue).
// Every value that came from ingested data goes through escapeHtml.
import type { MetricInfo } from '../query/engine.js';
import type { PerformanceStatus } from '../query/status.js';

export function escapeHtml(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

const fmt = (v: number | null, unit: string) => (v === null ? '—' : `${v.toLocaleString('en-US', { maximumFractionDigits: 2 })} ${unit}`);

export function renderStatusPage(status: PerformanceStatus, metrics: MetricInfo[]): string {
  const m = status.metrics;
  const rows = status.checks
    .map((c) => `<tr><td>${escapeHtml(c.name)}</td><td>${escapeHtml(fmt(c.value, c.unit))}</td><td>${escapeHtml(fmt(c.warningAt, c.unit))}</td><td>${escapeHtml(fmt(c.criticalAt, c.unit))}</td><td class="${escapeHtml(c.status)}">${escapeHtml(c.status)}</td></tr>`)
    .join('');
  const names = metrics.map((x) => `<tr><td><a href="/api/trends?metric=${encodeURIComponent(x.name)}&amp;period=1h">${escapeHtml(x.name)}</a></td><td>${escapeHtml(x.kind)}</td><td>${escapeHtml(x.unit)}</td><td>${x.series}</td></tr>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="refresh" content="10"><title>SoleMate Performance — ${escapeHtml(status.status)}</title>
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:2rem;max-width:60rem;color:#1b1f24;background:#fff}
table{border-collapse:collapse;margin:1rem 0}td,th{padding:.3rem .8rem;border-bottom:1px solid #d0d7de;text-align:left}
.healthy{color:#116329}.warning{color:#7d4e00}.critical{color:#a40e26;font-weight:600}.unknown{color:#57606a}
@media (prefers-color-scheme:dark){body{background:#0d1117;color:#e6edf3}td,th{border-color:#30363d}a{color:#58a6ff}.healthy{color:#3fb950}.warning{color:#d29922}.critical{color:#f85149}.unknown{color:#8b949e}}
</style></head><body>
<h1>SoleMate Performance: <span class="${escapeHtml(status.status)}">${escapeHtml(status.status)}</span></h1>
<p>Last five minutes (${escapeHtml(m.from)} – ${escapeHtml(m.to)}): ${m.throughput.requests} requests,
${escapeHtml(fmt(m.throughput.requestsPerSecond, 'req/s'))}; p50 ${escapeHtml(fmt(m.responseTime.p50, 'ms'))},
p95 ${escapeHtml(fmt(m.responseTime.p95, 'ms'))}, p99 ${escapeHtml(fmt(m.responseTime.p99, 'ms'))};
errors ${escapeHtml(fmt(m.errorRate.percentage, '%'))}.</p>
<table><thead><tr><th>Check</th><th>Value</th><th>Warning at</th><th>Critical at</th><th>Status</th></tr></thead><tbody>${rows}</tbody></table>
<h2>Stored metrics</h2>
${metrics.length ? `<table><thead><tr><th>Metric</th><th>Kind</th><th>Unit</th><th>Series</th></tr></thead><tbody>${names}</tbody></table>` : '<p>No data yet. Point an app at this server: see the README, "Instrument an app".</p>'}
<p><a href="/api/status">/api/status</a> · <a href="/api/metrics">/api/metrics</a> · <a href="/metrics">/metrics</a> · <a href="/openapi.json">OpenAPI</a></p>
</body></html>`;
}
