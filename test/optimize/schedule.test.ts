// The server's scheduled optimizer: refused without a target and scenario or without validation;
// with them, a run analyzes the stored data, applies the automatic recommendation (a response
// cache for a slow read-only route) through the measured workflow, and keeps it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from '../../src/server/app.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { readSettings } from '../../src/optimize/settings.js';
import { testConfig } from '../helpers.js';
import { seedReportData, startReportApp } from './report-app.js';

test('autoOptimize needs a target and a scenario, and validation', async () => {
  const store = new SqliteStore(':memory:');
  await store.migrate();
  await assert.rejects(createServer({ config: testConfig({ server: { port: 0 }, optimization: { enabled: true, autoOptimize: true } }), store, env: {} }), /needs optimization.target .* and optimization.scenario/);
  await assert.rejects(createServer({ config: testConfig({ server: { port: 0 }, optimization: { enabled: true, autoOptimize: true, target: 'http://127.0.0.1:1', scenario: 'x.yml', validationRequired: false } }), store, env: {} }), /validationRequired: false is not supported/);
  await assert.rejects(createServer({ config: testConfig({ server: { port: 0 }, optimization: { enabled: true, autoOptimize: true, target: 'http://example.com', scenario: 'x.yml' } }), store, env: {} }), /loopback|not allowed/i);
  await store.close();
});

test('a scheduled run applies, measures and keeps a response cache', async (t) => {
  const app = await startReportApp();
  const store = new SqliteStore(':memory:');
  await store.migrate();
  await seedReportData(store);
  const perf = await createServer({ config: testConfig({ server: { port: 0 }, optimization: { enabled: true, autoOptimize: true, target: app.target, scenario: app.scenario, optimizationInterval: 3_600_000, measure: { seconds: 2, rounds: 2, rate: 30 } } }), store, env: {} });
  app.settingsFrom(perf.url);
  t.after(async () => {
    await app.close();
    await perf.close();
    await store.close();
  });
  assert.ok(perf.optimizer, 'scheduled');
  const done = await perf.optimizer!.runOnce();
  assert.deepEqual(done!.map((r) => [r.action.type, r.state]), [['route-cache', 'kept']], JSON.stringify(done!.map((r) => r.reason)));
  assert.equal((await readSettings(store)).entries[0].type, 'route-cache');
  assert.equal((await fetch(`${app.target}/api/report`)).headers.get('x-solemate-cache'), 'hit');
});
