import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer, type PerformanceServer } from '../../src/server/app.js';
import { buildMetricsRequest } from '../../src/otlp/build.js';
import { Recorder } from '../../src/sdk/recorder.js';
import { startRuntimeSampler } from '../../src/sdk/runtime.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { testConfig } from '../helpers.js';

const promtool = spawnSync('promtool', ['--version']);
const skip = promtool.error ? 'promtool not installed (apt-get install -y prometheus; .ci/run installs it)' : false;
const servers: PerformanceServer[] = [];
after(() => Promise.all(servers.map((s) => s.close())));

test('GET /metrics passes promtool check metrics', { skip }, async () => {
  const store = new SqliteStore(':memory:');
  await store.migrate();
  const s = await createServer({ config: testConfig(), store });
  servers.push(s);
  const r = new Recorder({ service: 'shop', instance: 'i1', onWarning: () => {} });
  const rt = startRuntimeSampler(r);
  rt.sample();
  r.histogram('http.server.request.duration', { unit: 's' }).record(0.2, { 'http.route': '/a', 'http.request.method': 'GET', 'http.response.status_code': '200' });
  r.histogram('checkoutTime.duration', { unit: 'ms' }).record(12);
  r.counter('orders.placed').record(1);
  r.counter('bytes.sent_total', { unit: 'By' }).record(100);
  r.gauge('queue.depth').record(4, { 'weird key': 'v' });
  r.gauge('queue.depth').record(4, { queue: 'line\nbreak "quoted"' });
  rt.stop();
  await fetch(`${s.url}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(buildMetricsRequest(r.collect())) });
  const text = await (await fetch(`${s.url}/metrics`)).text();
  const check = spawnSync('promtool', ['check', 'metrics'], { input: text });
  assert.equal(check.status, 0, `promtool: ${check.stdout}${check.stderr}\n--- exposition ---\n${text}`);
  assert.match(text, /checkout_time_duration_seconds_bucket/);
  assert.match(text, /process_cpu_utilization_ratio/);
});
