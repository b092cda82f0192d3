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
  // B's live stream hears of data stored through A (LISTEN/NOTIFY between replicas); B's own
  // coalesced events from the posts above have gone out before its stream opens
  await new Promise((x) => setTimeout(x, 700));
  const ctl = new AbortController();
  t.after(() => ctl.abort());
  const stream = (await fetch(`${b.url}/api/stream`, { signal: ctl.signal })).body!.pipeThrough(new TextDecoderStream()).getReader();
  const heard = (async () => {
    let text = '';
    while (!text.includes('event: ingest')) text += (await stream.read()).value ?? '';
    return Date.now();
  })();
  await new Promise((x) => setTimeout(x, 200));
  const sentAt = Date.now();
  await post(a.url, buildMetricsRequest(second));
  const at = await Promise.race([heard, new Promise<number>((_, reject) => setTimeout(() => reject(new Error('no ingest event on B within 3 s')), 3000))]);
  assert.ok(at - sentAt < 2000, `B heard of A's ingest after ${at - sentAt} ms`);
});
