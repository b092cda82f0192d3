// Slow routes: p95 over a threshold, ranked by their share of all server time (fixing a slow route
// nobody calls saves nothing).
import type { Analyzer } from './types.js';

export const slowRoutes: Analyzer<{ p95Ms: number; minRequests: number }> = {
  meta: { id: 'slow-routes', title: 'Slow routes', description: 'Routes whose p95 exceeds the threshold, ranked by their share of server time.', requires: ['routes'] },
  defaults: {
    p95Ms: { value: 500, source: 'the shipped RouteP95High alert rule (performance/alerts/performance.yml)' },
    minRequests: { value: 20, source: 'fewer requests make a p95 that one outlier decides' },
  },
  async analyze(inputs, o) {
    const routes = inputs.routes!;
    if (routes.length === 0) return { notApplicable: 'no HTTP server requests in the window' };
    return routes
      .filter((r) => r.requests >= o.minRequests && r.p95Ms > o.p95Ms)
      .sort((a, b) => b.timeShare - a.timeShare)
      .map((r) => ({
        severity: r.p95Ms > 2 * o.p95Ms ? 'critical' : 'warning',
        title: `${r.method} ${r.route}: p95 ${Math.round(r.p95Ms)} ms`,
        target: { route: r.route, method: r.method },
        evidence: {
          headings: [
            { key: 'p95', label: 'p95 (ms)' },
            { key: 'avg', label: 'average (ms)' },
            { key: 'rps', label: 'requests/s' },
            { key: 'share', label: 'share of server time' },
          ],
          rows: [{ p95: Math.round(r.p95Ms), avg: Math.round(r.avgMs), rps: Number(r.requestsPerSecond.toFixed(2)), share: `${(r.timeShare * 100).toFixed(1)}%` }],
        },
        impact: { metric: 'server time', estimate: Number((r.timeShare * 100).toFixed(1)), unit: '%', derivedFrom: `${r.requests} requests × ${Math.round(r.avgMs)} ms average over all routes' total request time in the window` },
      }));
  },
};
