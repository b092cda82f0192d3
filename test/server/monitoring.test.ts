// The PRD's PerformanceMonitoringService against a real server: rules created and updated through
// the API, the dashboard, and silences and API rules surviving a restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { OtlpHttpExporter } from '../../src/exporters/otlp.js';
import { Recorder } from '../../src/sdk/recorder.js';
import { PerformanceMonitoringService } from '../../src/sdk/monitoring-service.js';
import { createServer } from '../../src/server/app.js';
import { json, testConfig, tmpDir } from '../helpers.js';

test('create, update, evaluate, dashboard; silences and API rules survive a restart', async () => {
  const file = path.join(tmpDir(), 'perf.db');
  const config = testConfig({ store: { path: file }, alerting: { rules: [tmpDir()], slos: [] } });
  const env = { SOLEMATE_PERF_INGEST_TOKEN: 's3cret' };
  let s = await createServer({ config, env });
  try {
    const recorder = new Recorder({ service: 'shop', onWarning: () => {} });
    const h = recorder.histogram('http.server.request.duration', { unit: 's' });
    for (let i = 0; i < 20; i++) h.record(0.3, { 'http.route': '/slow', 'http.request.method': 'GET', 'http.response.status_code': '200' });
    for (let i = 0; i < 20; i++) h.record(0.01, { 'http.route': '/fast', 'http.request.method': 'GET', 'http.response.status_code': '200' });
    const exporter = new OtlpHttpExporter({ endpoint: s.url, headers: { authorization: 'Bearer s3cret' } });
    exporter.enqueue(recorder.collect());
    await exporter.flush();

    const anonymous = new PerformanceMonitoringService({ url: s.url, token: '' });
    const rule = { alert: 'RouteSlow', expr: { metric: 'http.server.request.duration', aggregation: 'p95' as const, window: '5m', by: ['route'], op: '>' as const, threshold: 1000 }, labels: { severity: 'warning' } };
    await assert.rejects(anonymous.createPerformanceAlert(rule), /PERF_ERR_UNAUTHORIZED|token/);
    const mon = new PerformanceMonitoringService({ url: s.url, token: 's3cret' });
    await mon.createPerformanceAlert(rule);
    await assert.rejects(mon.createPerformanceAlert(rule), /exists/);
    await assert.rejects(mon.createPerformanceAlert({ ...rule, alert: 'Bad', expr: { ...rule.expr, window: 'later' } }), /expr\.window/);
    assert.equal((await s.evaluateAlerts())?.transitions.length, 0, 'threshold 1000 ms: nothing fires');
    await mon.updatePerformanceAlert('RouteSlow', { ...rule, expr: { ...rule.expr, threshold: 200 } });
    await assert.rejects(mon.updatePerformanceAlert('Nope', { ...rule, alert: 'Nope' }), /no API rule Nope/);
    const cycle = await s.evaluateAlerts();
    assert.deepEqual(cycle?.transitions.map((t) => t.instance.labels.route), ['/slow']);
    const alerts = await mon.getPerformanceAlerts();
    assert.ok(alerts.rules.some((r) => r.id === 'api/api/RouteSlow'));
    assert.equal(alerts.active[0].alert, 'RouteSlow');
    const dash = await mon.getPerformanceDashboard();
    assert.equal((dash.slowestRoutes as { route: string }[])[0].route, '/slow');
    assert.ok((dash.slowestRoutes as { p95Ms: number }[])[0].p95Ms > 250);
    assert.equal((dash.alerts as unknown[]).length, 1);
    assert.ok(dash.status && dash.metrics);
    const fp = alerts.active[0] as unknown as { fingerprint: string };
    const ack = await fetch(`${s.url}/api/alerts/${fp.fingerprint}/ack`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer s3cret' }, body: JSON.stringify({ by: 'ana', comment: 'looking' }) });
    assert.equal(ack.status, 201);
    assert.equal((await fetch(`${s.url}/api/alerts/ffff/ack`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer s3cret' }, body: '{"by":"x"}' })).status, 404);
    assert.equal(((await json(fetch(`${s.url}/api/alerts`))).active[0].acknowledged as { by: string }).by, 'ana');
    const silence = await fetch(`${s.url}/api/silences`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer s3cret' }, body: JSON.stringify({ matchers: [{ name: 'route', value: '/slow' }], endsAt: new Date(Date.now() + 3_600_000).toISOString(), createdBy: 'ana', comment: 'known' }) });
    assert.equal(silence.status, 201);
  } finally {
    await s.close();
  }
  s = await createServer({ config, env });
  try {
    const silences = await json(fetch(`${s.url}/api/silences`));
    assert.equal(silences.silences.length, 1, 'the silence survived the restart');
    const body = await json(fetch(`${s.url}/api/alerts`));
    assert.ok(body.rules.some((r: { id: string }) => r.id === 'api/api/RouteSlow'), 'so did the API rule');
    assert.equal(body.active[0].phase, 'firing', 'and the firing alert');
    const del = await fetch(`${s.url}/api/alerts/rules/RouteSlow`, { method: 'DELETE', headers: { authorization: 'Bearer s3cret' } });
    assert.equal(del.status, 200);
    await s.evaluateAlerts();
    assert.deepEqual(s.alerts!.active(), [], 'a deleted rule takes its alerts with it');
  } finally {
    await s.close();
  }
});
