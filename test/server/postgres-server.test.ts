// Two server replicas on one PostgreSQL store: an app's data sent to either is answered by both.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from '../../src/server/app.js';
import { buildMetricsRequest } from '../../src/otlp/build.js';
import { Recorder } from '../../src/sdk/recorder.js';
import { freshDatabase, json, testConfig } from '../helpers.js';

const db = await freshDatabase();
test('two server replicas share one PostgreSQL store', { skip: 'skip' in db ? db.skip : false }, async (t) => {
  if ('skip' in db) return;
  t.after(() => db.drop());
  const config = testConfig({ store: { kind: 'postgres', url: db.url } });
  const a = await createServer({ config });
  t.after(() => a.close());
  const b = await createServer({ config });
  t.after(() => b.close());
  const r = new Recorder({ service: 'shop', instance: 'pod-1', onWarning: () => {} });
  const h = r.histogram('http.server.request.duration', { unit: 's' });
  for (let i = 1; i <= 100; i++) h.record(i / 1000, { 'http.route': '/p', 'http.request.method': 'GET', 'http.response.status_code': '200' });
  const first = r.collect();
  for (let i = 1; i <= 100; i++) h.record(i / 1000, { 'http.route': '/p', 'http.request.method': 'GET', 'http.response.status_code': '200' });
  const second = r.collect();
  const post = (url: string, body: object) => fetch(`${url}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal((await Promise.all([post(a.url, buildMetricsRequest(first)), post(b.url, buildMetricsRequest(second))])).map((x) => x.status).join(), '200,200');
  for (const s of [a, b]) {
    const m = await json(fetch(`${s.url}/api/metrics`));
    assert.equal(m.throughput.requests, 200);
    assert.ok(Math.abs(m.responseTime.p99 - 99) / 99 < 0.01);
  }
  assert.equal((await json(fetch(`${a.url}/healthz`))).store, 'postgres');
});
