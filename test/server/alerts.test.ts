// Alerting inside the server: an injected latency spike, sent over OTLP like any app would, fires
// the shipped-style rule on the next evaluation and shows in /api/alerts and its history.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { OtlpHttpExporter } from '../../src/exporters/otlp.js';
import { Recorder } from '../../src/sdk/recorder.js';
import { createServer } from '../../src/server/app.js';
import { DEFAULT_RULES } from '../../src/alerts/rules.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { json, testConfig, tmpDir } from '../helpers.js';

test('a latency spike over OTLP fires on the next evaluation; /api/alerts shows it, then its recovery', async () => {
  const rules = tmpDir();
  fs.writeFileSync(
    path.join(rules, 'latency.yml'),
    `groups:
  - name: latency
    rules:
      - alert: SlowCheckout
        expr: { metric: http.server.request.duration, aggregation: p95, window: 1m, filters: { route: /checkout }, op: ">", threshold: 250 }
        labels: { severity: critical }
        annotations: { summary: "checkout p95 is {{ $value }} ms" }
`,
  );
  const store = new SqliteStore(':memory:');
  await store.migrate();
  const s = await createServer({ config: testConfig({ alerting: { rules: [rules], slos: [] } }), store });
  try {
    const recorder = new Recorder({ service: 'shop', onWarning: () => {} });
    const h = recorder.histogram('http.server.request.duration', { unit: 's' });
    const exporter = new OtlpHttpExporter({ endpoint: s.url });
    for (let i = 0; i < 50; i++) h.record(0.4 + i / 1000, { 'http.route': '/checkout', 'http.request.method': 'POST', 'http.response.status_code': '200' });
    exporter.enqueue(recorder.collect());
    await exporter.flush();
    const cycle = await s.evaluateAlerts();
    assert.equal(cycle?.transitions[0]?.kind, 'firing');
    const body = await json(fetch(`${s.url}/api/alerts`));
    assert.equal(body.active.length, 1);
    assert.equal(body.active[0].phase, 'firing');
    assert.match(body.active[0].annotations.summary, /^checkout p95 is 4\d\d ms$/);
    assert.deepEqual(body.rules.map((r: { id: string }) => r.id), ['latency.yml/latency/SlowCheckout']);
    assert.deepEqual(body.ruleErrors, {});
    assert.equal(body.lastCycle.evaluated, true);
    const history = await json(fetch(`${s.url}/api/alerts/history?since=-1h`));
    assert.equal(history.events[0].kind, 'firing');
    assert.equal((await fetch(`${s.url}/api/alerts/history?limit=0`)).status, 400);
  } finally {
    await s.close();
  }
});

test('the shipped rules load by default; alerting can be switched off', async () => {
  const store = new SqliteStore(':memory:');
  await store.migrate();
  const s = await createServer({ config: testConfig(), store });
  try {
    const body = await json(fetch(`${s.url}/api/alerts`));
    assert.ok(body.rules.length >= 10, `${body.rules.length} rules from ${DEFAULT_RULES}`);
    assert.deepEqual(body.ruleErrors, {});
  } finally {
    await s.close();
  }
  const off = await createServer({ config: testConfig({ alerting: { enabled: false } }), store: new SqliteStore(':memory:') });
  try {
    assert.equal((await fetch(`${off.url}/api/alerts`)).status, 404);
    assert.equal(await off.evaluateAlerts(), undefined);
  } finally {
    await off.close();
  }
});

test('end to end: a spike fires, the webhook receives it once per group; silences via the API (token-protected)', async () => {
  const http = await import('node:http');
  const got: { status: string; alerts: { labels: { alertname: string } }[] }[] = [];
  const hook = http.createServer((req, res) => {
    let b = '';
    req.on('data', (d) => (b += d));
    req.on('end', () => (got.push(JSON.parse(b)), res.end()));
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  const hookUrl = `http://127.0.0.1:${(hook.address() as { port: number }).port}/am`;
  const rules = tmpDir();
  fs.writeFileSync(path.join(rules, 'r.yml'), 'groups:\n  - name: g\n    rules:\n      - alert: Slow\n        expr: { metric: http.server.request.duration, aggregation: avg, window: 1m, op: ">", threshold: 100 }\n');
  const store = new SqliteStore(':memory:');
  await store.migrate();
  const s = await createServer({ config: testConfig({ alerting: { rules: [rules], slos: [], channels: ['env:HOOK'], groupWait: 0 } }), store, env: { HOOK: `webhook:${hookUrl}`, SOLEMATE_PERF_INGEST_TOKEN: 'tok' } });
  try {
    const recorder = new Recorder({ service: 'shop', onWarning: () => {} });
    recorder.histogram('http.server.request.duration', { unit: 's' }).record(0.5, { 'http.route': '/x', 'http.request.method': 'GET', 'http.response.status_code': '200' });
    const exporter = new OtlpHttpExporter({ endpoint: s.url, headers: { authorization: 'Bearer tok' } });
    exporter.enqueue(recorder.collect());
    await exporter.flush();
    await s.evaluateAlerts();
    s.dispatcher!.tick(Date.now());
    await s.dispatcher!.idle();
    assert.equal(got.length, 1);
    assert.equal(got[0].status, 'firing');
    assert.equal(got[0].alerts[0].labels.alertname, 'Slow');
    const deliveries = await json(fetch(`${s.url}/api/alerts/deliveries`));
    assert.equal(deliveries.deliveries[0].ok, true);
    const silence = { matchers: [{ name: 'alertname', value: 'Slow' }], endsAt: new Date(Date.now() + 3_600_000).toISOString(), createdBy: 'ana', comment: 'known, fixing' };
    assert.equal((await fetch(`${s.url}/api/silences`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(silence) })).status, 401);
    const created = await fetch(`${s.url}/api/silences`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer tok' }, body: JSON.stringify(silence) });
    assert.equal(created.status, 201);
    const { id } = (await created.json()) as { id: string };
    const body = await json(fetch(`${s.url}/api/alerts`));
    assert.equal(Object.values(body.muted)[0], 'silenced');
    const bad = await fetch(`${s.url}/api/silences`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer tok' }, body: JSON.stringify({ ...silence, matchers: [] }) });
    assert.equal(bad.status, 400);
    assert.equal((await fetch(`${s.url}/api/silences/${id}`, { method: 'DELETE', headers: { authorization: 'Bearer tok' } })).status, 200);
    assert.equal((await fetch(`${s.url}/api/silences/nope`, { method: 'DELETE', headers: { authorization: 'Bearer tok' } })).status, 404);
  } finally {
    await s.close();
    hook.close();
  }
});

test('done-when, end to end: a spike fires after interval + for, notifies once per group, resolves; inhibition and a silence hold', async () => {
  const http = await import('node:http');
  const { histPoint } = await import('../store/contract.js');
  const got: { status: string; alerts: { status: string; labels: Record<string, string> }[] }[] = [];
  const hook = http.createServer((req, res) => {
    let b = '';
    req.on('data', (d) => (b += d));
    req.on('end', () => (got.push(JSON.parse(b)), res.end()));
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  const rules = tmpDir();
  fs.writeFileSync(
    path.join(rules, 'r.yml'),
    `groups:
  - name: latency
    rules:
      - alert: LatencyCritical
        expr: { metric: http.server.request.duration, aggregation: p95, window: 1m, op: ">", threshold: 300 }
        for: 1m
        labels: { severity: critical, objective: latency }
      - alert: LatencyWarning
        expr: { metric: http.server.request.duration, aggregation: p95, window: 1m, op: ">", threshold: 200 }
        for: 1m
        labels: { severity: warning, objective: latency }
      - alert: Checkout
        expr: { metric: http.server.request.duration, aggregation: p95, window: 1m, filters: { route: /checkout }, op: ">", threshold: 100 }
        labels: { severity: warning }
`,
  );
  let now = Date.UTC(2026, 10, 25, 12, 0, 0);
  const store = new SqliteStore(':memory:');
  await store.migrate();
  const s = await createServer({ config: testConfig({ alerting: { rules: [rules], slos: [], channels: [`webhook:http://127.0.0.1:${(hook.address() as { port: number }).port}/`], groupBy: ['objective'], groupWait: 0, groupInterval: 30_000 } }), store, clock: () => now });
  const minute = (slow: boolean) => store.write([histPoint('http.server.request.duration', { 'http.route': '/checkout' }, now - 10_000, slow ? [0.5, 0.6, 0.7] : [0.01, 0.02])]);
  const step = async () => {
    await s.evaluateAlerts();
    s.dispatcher!.tick(now);
    await s.dispatcher!.idle();
  };
  try {
    // the Checkout alert is silenced for the whole test
    const sil = await fetch(`${s.url}/api/silences`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ matchers: [{ name: 'alertname', value: 'Checkout' }], startsAt: new Date(now - 1000).toISOString(), endsAt: new Date(now + 3_600_000).toISOString(), createdBy: 't', comment: 'planned' }) });
    assert.equal(sil.status, 201);
    await minute(true);
    await step(); // pending: `for` is 1 minute
    assert.equal(got.length, 0);
    now += 60_000;
    await minute(true);
    await step(); // one interval plus `for`: both latency alerts fire; the warning is inhibited, Checkout silenced
    assert.equal(got.length, 1, 'one notification for the objective group');
    assert.deepEqual(got[0].alerts.map((a) => a.labels.alertname), ['LatencyCritical']);
    now += 30_000;
    await minute(true);
    await step();
    assert.equal(got.length, 1, 'no repeat: nothing changed');
    // recovered: windows read whole minutes, so the slow minute must leave the window first
    now += 60_000;
    await minute(false);
    now += 60_000;
    await minute(false);
    await step(); // resolved, once
    assert.equal(got.length, 2);
    assert.equal(got[1].status, 'resolved');
    assert.deepEqual(got[1].alerts.map((a) => [a.labels.alertname, a.status]), [['LatencyCritical', 'resolved']]);
    const history = await json(fetch(`${s.url}/api/alerts/history`));
    assert.deepEqual(history.events.map((e: { kind: string; body: { alert: string } }) => `${e.kind} ${e.body.alert}`).sort(), ['firing Checkout', 'firing LatencyCritical', 'firing LatencyWarning', 'resolved Checkout', 'resolved LatencyCritical', 'resolved LatencyWarning']);
  } finally {
    await s.close();
    hook.close();
  }
});
