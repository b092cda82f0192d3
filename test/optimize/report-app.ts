// A small app with one slow read-only route (/api/report, 40 ms) behind the optimization middleware,
// a scenario for it, and stored data that makes the cacheable-routes analyzer recommend caching it:
// what the scheduled optimizer and the dashboard's Apply button are tested with.
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
  const app = http.createServer(a);
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  const scenario = path.join(tmpDir(), 'report.yml');
  fs.writeFileSync(scenario, 'name: report\nroutes:\n  - { path: /api/report }\n');
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
