// The server's scheduled optimizer: refused without a target and scenario or without validation;
// with them, a run analyzes the stored data, applies the automatic recommendation (a response
// cache for a slow read-only route) through the measured workflow, and keeps it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createServer } from '../../src/server/app.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { optimizationMiddleware } from '../../src/optimize/middleware.js';
import { readSettings } from '../../src/optimize/settings.js';
import { histPoint } from '../store/contract.js';
import { testConfig, tmpDir } from '../helpers.js';

test('autoOptimize needs a target and a scenario, and validation', async () => {
  const store = new SqliteStore(':memory:');
  await store.migrate();
  await assert.rejects(createServer({ config: testConfig({ server: { port: 0 }, optimization: { enabled: true, autoOptimize: true } }), store, env: {} }), /needs optimization.target .* and optimization.scenario/);
  await assert.rejects(createServer({ config: testConfig({ server: { port: 0 }, optimization: { enabled: true, autoOptimize: true, target: 'http://127.0.0.1:1', scenario: 'x.yml', validationRequired: false } }), store, env: {} }), /validationRequired: false is not supported/);
  await assert.rejects(createServer({ config: testConfig({ server: { port: 0 }, optimization: { enabled: true, autoOptimize: true, target: 'http://example.com', scenario: 'x.yml' } }), store, env: {} }), /loopback|not allowed/i);
  await store.close();
});

test('a scheduled run applies, measures and keeps a response cache', async (t) => {
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
  const target = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
  const scenario = path.join(tmpDir(), 'report.yml');
  fs.writeFileSync(scenario, 'name: report\nroutes:\n  - { path: /api/report }\n');

  const store = new SqliteStore(':memory:');
  await store.migrate();
  const now = Date.now();
  const attrs = { 'http.route': '/api/report', 'http.request.method': 'GET', 'http.response.status_code': '200' };
  await store.write([histPoint('http.server.request.duration', attrs, now - 60_000, Array(300).fill(0.04)), histPoint('http.server.request.duration', { ...attrs, 'http.route': '/other' }, now - 60_000, Array(300).fill(0.002))]);
  await store.writeSpans([{ traceId: 'f'.repeat(32), spanId: 'e'.repeat(16), service: 'shop', instance: 'a', name: 'GET /api/report', kind: 'server', start: now - 60_000, duration: 40, status: 'unset', attributes: { 'http.route': '/api/report', 'http.request.method': 'GET' } }]);
  const perf = await createServer({ config: testConfig({ server: { port: 0 }, optimization: { enabled: true, autoOptimize: true, target, scenario, optimizationInterval: 3_600_000, measure: { seconds: 2, rounds: 2, rate: 30 } } }), store, env: {} });
  perfUrl = perf.url;
  t.after(async () => {
    mw.close();
    app.closeAllConnections();
    await new Promise((r) => app.close(r));
    await perf.close();
    await store.close();
  });
  assert.ok(perf.optimizer, 'scheduled');
  const done = await perf.optimizer!.runOnce();
  assert.deepEqual(done!.map((r) => [r.action.type, r.state]), [['route-cache', 'kept']], JSON.stringify(done!.map((r) => r.reason)));
  assert.equal((await readSettings(store)).entries[0].type, 'route-cache');
  assert.equal((await fetch(`${target}/api/report`)).headers.get('x-solemate-cache'), 'hit');
});
