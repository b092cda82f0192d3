// A small app with two slow read-only routes (/api/report and /api/summary, 40 ms) behind the
// optimization middleware, a scenario for them, and stored data that makes the cacheable-routes
// analyzer recommend caching /api/report (automatic) and /api/summary (manual: its table is written
// too often for a cache that writes empty): what the scheduled optimizer and the dashboard's Apply
// and Approve buttons are tested with.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { optimizationMiddleware } from '../../src/optimize/middleware.js';
import type { Store } from '../../src/store/store.js';
import { histPoint } from '../store/contract.js';
import { tmpDir } from '../helpers.js';

export interface ReportApp {
  target: string;
  /** the scenario file measuring /api/report */
  scenario: string;
  /** where the middleware reads its settings from (the performance server, once it is up) */
  settingsFrom(perfUrl: string): void;
  close(): Promise<void>;
}

export async function startReportApp(): Promise<ReportApp> {
  const a = express();
  let perfUrl = '';
  const mw = optimizationMiddleware({ source: { get: async () => (await fetch(`${perfUrl}/api/optimizations/settings`)).json() as never, intervalMs: 100 } });
  a.use(mw);
  a.get('/api/report', async (_req, res) => {
    await new Promise((r) => setTimeout(r, 40));
    res.json({ rows: [1, 2, 3] });
  });
  a.get('/api/summary', async (_req, res) => {
    await new Promise((r) => setTimeout(r, 40));
    res.json({ total: 6 });
  });
  const app = http.createServer(a);
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  const scenario = path.join(tmpDir(), 'report.yml');
  fs.writeFileSync(scenario, 'name: report\nroutes:\n  - { path: /api/report }\n  - { path: /api/summary }\n');
  return {
    target: `http://127.0.0.1:${(app.address() as AddressInfo).port}`,
    scenario,
    settingsFrom: (url) => void (perfUrl = url),
    async close() {
      mw.close();
      app.closeAllConnections();
      await new Promise((r) => app.close(r));
    },
  };
}

/** A minute of /api/report at 40 ms beside a fast route, and one of its traces (reads only). */
export async function seedReportData(store: Store, now = Date.now()): Promise<void> {
  const attrs = { 'http.route': '/api/report', 'http.request.method': 'GET', 'http.response.status_code': '200' };
  await store.write([histPoint('http.server.request.duration', attrs, now - 60_000, Array(300).fill(0.04)), histPoint('http.server.request.duration', { ...attrs, 'http.route': '/other' }, now - 60_000, Array(300).fill(0.002))]);
  await store.writeSpans([{ traceId: 'f'.repeat(32), spanId: 'e'.repeat(16), service: 'shop', instance: 'a', name: 'GET /api/report', kind: 'server', start: now - 60_000, duration: 40, status: 'unset', attributes: { 'http.route': '/api/report', 'http.request.method': 'GET' } }]);
}

/**
 * A minute of /api/summary at 40 ms (one URL) and of POST /api/summary/refresh, which updates the
 * table the summary reads 1,200 times: a cache emptied by those writes would rarely hit, one kept the
 * whole TTL would — a manual recommendation, applied only with a person's approval.
 */
export async function seedStaleSummaryData(store: Store, now = Date.now()): Promise<void> {
  const attrs = { 'http.route': '/api/summary', 'http.request.method': 'GET', 'http.response.status_code': '200' };
  const refresh = { ...attrs, 'http.route': '/api/summary/refresh', 'http.request.method': 'POST' };
  await store.write([histPoint('http.server.request.duration', attrs, now - 60_000, Array(300).fill(0.04)), histPoint('http.server.request.duration', refresh, now - 60_000, Array(1200).fill(0.002))]);
  const trace = (i: number, root: Record<string, string>, op: string) => {
    const traceId = (op === 'SELECT' ? 'a' : 'b').repeat(31) + i.toString(16);
    return [
      { traceId, spanId: `${i.toString(16)}`.padStart(16, 'c'), service: 'shop', instance: 'a', name: `${root['http.request.method']} ${root['http.route']}`, kind: 'server' as const, start: now - 60_000 + i, duration: 40, status: 'unset' as const, attributes: root },
      { traceId, spanId: `${i.toString(16)}`.padStart(16, 'd'), parentSpanId: `${i.toString(16)}`.padStart(16, 'c'), service: 'shop', instance: 'a', name: `${op} summaries`, kind: 'client' as const, start: now - 60_000 + i + 1, duration: 30, status: 'unset' as const, attributes: { 'db.operation.name': op, 'db.collection.name': 'summaries' } },
    ];
  };
  await store.writeSpans([...[0, 1, 2, 3, 4].flatMap((i) => trace(i, { 'http.route': '/api/summary', 'http.request.method': 'GET', 'solemate.url.key': 'summary' }, 'SELECT')), ...trace(5, { 'http.route': '/api/summary/refresh', 'http.request.method': 'POST', 'http.response.status_code': '200' }, 'UPDATE')]);
}
