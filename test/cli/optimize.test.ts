// solemate-perf optimize / optimizations: dry run, usage errors, rollback of a kept optimization,
// history with the success rate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { SqliteStore } from '../../src/store/sqlite.js';
import { readSettings, updateSettings } from '../../src/optimize/settings.js';
import { track, type OptimizationRecord } from '../../src/optimize/tracking.js';
import { histPoint } from '../store/contract.js';
import { tmpDir } from '../helpers.js';
import { cli } from './run.js';

test('optimize: a dry run lists what would be applied; bad usage exits 2', async () => {
  const data = path.join(tmpDir(), 'perf.db');
  const store = new SqliteStore(data);
  await store.migrate();
  await store.write([histPoint('http.server.request.duration', { 'http.route': '/slow', 'http.request.method': 'GET', 'http.response.status_code': '200' }, Date.now() - 30_000, Array(50).fill(1.5))]);
  await store.close();
  const dry = await cli(['optimize', '--data', data, '--window', '5m']);
  assert.equal(dry.code, 0, dry.err);
  assert.match(dry.out, /nothing to apply automatically\n1 more recommendation needs a person \(solemate-perf analyze\)\ndry run: add --apply/);
  const json = JSON.parse((await cli(['optimize', '--data', data, '--window', '5m', '--json'])).out);
  assert.equal(json.dryRun, true);
  assert.equal(json.manual.length, 1);
  assert.match(json.manual[0].title, /^GET \/slow: p95 1[45]\d\d ms$/);
  const bad = await cli(['optimize', '--data', data, '--index', 'products(x']);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--index: expected table\(column, \.\.\.\)/);
  const noTarget = await cli(['optimize', '--data', data, '--apply', '--index', 'products(x)']);
  assert.equal(noTarget.code, 2);
  assert.match(noTarget.err, /applying needs the service \(--target URL\) and a scenario/);
  const unknown = await cli(['optimize', '--data', data, '--only', 'nope-123']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.err, /--only: no current recommendation nope-123/);
  const byHand = await cli(['optimize', '--data', data, '--window', '5m', '--only', json.manual[0].id]);
  assert.equal(byHand.code, 2);
  assert.match(byHand.err, /has no action to apply; it is a change to make by hand/);
});

test('optimize --rollback undoes a kept optimization; optimizations shows the history and success rate', async () => {
  const data = path.join(tmpDir(), 'perf.db');
  const store = new SqliteStore(data);
  await store.migrate();
  const now = Date.now();
  const kept: OptimizationRecord = { id: 'opt-kept-1', title: 'compress responses', action: { type: 'compression', params: { threshold: 1024, brotli: true } }, description: '', objective: 'bytes', routes: [], state: 'recorded', createdAt: now, updatedAt: now, events: [], undo: { setting: 'opt-kept-1' }, before: { runs: 2, requests: 600, failed: 0, requestsPerSecond: 40, p50: 3, p95: 9, p99: 12, bytesPerResponse: 16_000 }, after: { runs: 2, requests: 600, failed: 0, requestsPerSecond: 40, p50: 3, p95: 8, p99: 11, bytesPerResponse: 3_000 } };
  await updateSettings(store, (e) => [...e, { id: 'opt-kept-1', type: 'compression', enabled: true, params: { threshold: 1024, brotli: true } }]);
  await track(store, kept, 'kept', 'kept: bytes …');
  await track(store, { ...kept, id: 'opt-gone-2', title: 'useless index', createdAt: now + 1, events: [], undo: { index: 'solemate_x' } }, 'rolled_back', 'response time not significantly better');
  await store.close();

  const list = await cli(['optimizations', '--data', data]);
  assert.equal(list.code, 0);
  assert.match(list.out, /kept {8}compress responses {2}\[opt-kept-1\]\n {4}p95 9\.0 → 8\.0 ms, 16000 → 3000 B\/response/);
  assert.match(list.out, /success rate: 1 kept of 2 applied \(50%\)$/);

  assert.equal((await cli(['optimize', '--data', data, '--rollback', 'opt-gone-2'])).code, 2, 'only kept ones');
  assert.equal((await cli(['optimize', '--data', data, '--rollback', 'nope'])).code, 1);
  const rb = await cli(['optimize', '--data', data, '--rollback', 'opt-kept-1', '--json']);
  assert.equal(rb.code, 0, rb.err);
  assert.equal(JSON.parse(rb.out).state, 'rolled_back');
  const again = new SqliteStore(data);
  {
    const settings = await readSettings(again);
    assert.deepEqual(settings.entries, [], 'the setting it owned is gone');
  }
  await again.close();
  const h = JSON.parse((await cli(['optimizations', '--data', data, '--json'])).out);
  assert.deepEqual(h.successRate, { kept: 0, applied: 2, rate: 0 });
  assert.equal(h.optimizations[0].events.at(-1).message, 'rolled back on request');
});

test('analyzer options come from optimization.analyzers in the config, checked against the defaults', async () => {
  const fs = await import('node:fs');
  const dir = tmpDir();
  const data = path.join(dir, 'perf.db');
  const store = new SqliteStore(data);
  await store.migrate();
  await store.write([histPoint('http.server.request.duration', { 'http.route': '/slow', 'http.request.method': 'GET', 'http.response.status_code': '200' }, Date.now() - 30_000, Array(50).fill(1.5))]);
  await store.close();
  const config = (analyzers: unknown) => {
    const f = path.join(dir, `c${Math.random()}.json`);
    fs.writeFileSync(f, JSON.stringify({ optimization: { analyzers } }));
    return f;
  };
  assert.match((await cli(['analyze', '--data', data, '--window', '5m'])).out, /GET \/slow: p95/);
  const raised = await cli(['analyze', '--data', data, '--window', '5m', '--config', config({ 'slow-routes': { p95Ms: 2000 } })]);
  assert.equal(raised.code, 0, raised.err);
  assert.equal(raised.out, 'no findings', 'the threshold from the config applies');
  const unknown = await cli(['analyze', '--data', data, '--config', config({ 'slow-rutes': { p95Ms: 2000 } })]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.err, /optimization\.analyzers\.slow-rutes: no such analyzer/);
  const wrongType = await cli(['analyze', '--data', data, '--config', config({ 'slow-routes': { p95Ms: 'fast' } })]);
  assert.match(wrongType.err, /optimization\.analyzers\.slow-routes\.p95Ms: must be a number/);
});
