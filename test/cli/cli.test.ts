import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { createServer } from '../../src/server/app.js';
import { buildMetricsRequest } from '../../src/otlp/build.js';
import { Recorder } from '../../src/sdk/recorder.js';
import { json, testConfig, tmpDir } from '../helpers.js';
import { cli } from './run.js';

const MAIN = path.resolve('src/cli/main.ts');

test('help for the tool and for every command; --json everywhere', async () => {
  const top = await cli(['--help']);
  assert.equal(top.code, 0);
  for (const name of ['start', 'status', 'metrics', 'trends', 'alerts', 'analyze', 'optimize', 'optimizations', 'dashboards', 'loadtest', 'lighthouse', 'webpagetest', 'config']) {
    assert.match(top.out, new RegExp(`\\b${name}\\b`));
    const h = await cli([name, '--help']);
    assert.equal(h.code, 0);
    assert.match(h.out, /Usage: solemate-perf/);
    assert.match(h.out, /--json/);
  }
  assert.equal((await cli([])).code, 2);
});

test('usage errors exit 2 with the offending flag or field', async () => {
  const unknown = await cli(['frobnicate']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.err, /unknown command "frobnicate"/);
  const flag = await cli(['metrics', '--nope']);
  assert.equal(flag.code, 2);
  assert.match(flag.err, /--nope/);
  const dir = tmpDir();
  const file = path.join(dir, 'c.yml');
  fs.writeFileSync(file, 'monitoring:\n  thresholds:\n    errorRate: -1\n');
  const bad = await cli(['config', '--config', file]);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /monitoring\.thresholds\.errorRate/);
  assert.equal((await cli(['start', '--port', 'x'])).code, 2);
  assert.equal((await cli(['trends'])).code, 2);
  const ok = await cli(['config', '--json'], { SOLEMATE_PERF_DATABASE_URL: 'postgres://u:pw@h/db' });
  assert.equal(ok.code, 0);
  assert.equal(JSON.parse(ok.out).store.url, '(set)', 'secrets are not printed');
});

test('status, metrics and trends talk to a running server; an unreachable one is a clear message, exit 1', async () => {
  const server = await createServer({ config: testConfig({ store: { path: `${tmpDir()}/p.db` } }) });
  const r = new Recorder({ service: 'shop', onWarning: () => {} });
  for (let i = 1; i <= 10; i++) r.histogram('http.server.request.duration', { unit: 's' }).record(i / 100, { 'http.route': '/a', 'http.request.method': 'GET', 'http.response.status_code': '200' });
  await fetch(`${server.url}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(buildMetricsRequest(r.collect())) });
  const metrics = await cli(['metrics', '--url', server.url, '--json']);
  assert.equal(metrics.code, 0);
  assert.equal(JSON.parse(metrics.out).throughput.requests, 10);
  const text = await cli(['metrics', '--url', server.url, '--route', '/a']);
  assert.match(text.out, /requests\s+10/);
  const status = await cli(['status', '--json'], { SOLEMATE_PERF_URL: server.url });
  assert.equal(JSON.parse(status.out).checks.length, 4);
  const trends = await cli(['trends', 'http.server.request.duration', '--url', server.url, '--period', '1h']);
  assert.equal(trends.code, 0);
  assert.match(trends.out, /stable/);
  const badTrend = await cli(['trends', 'nothing', '--url', server.url]);
  assert.equal(badTrend.code, 2);
  assert.match(badTrend.err, /no data for metric "nothing"/);
  await server.close();
  const down = await cli(['status', '--url', server.url]);
  assert.equal(down.code, 1);
  assert.match(down.err, /cannot reach .* Start the server/);
});

/** Starts `solemate-perf start` as a real process and waits for its JSON line. */
function startProcess(data: string): Promise<{ child: ReturnType<typeof spawn>; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'start', '--port', '0', '--data', data, '--json'], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    readline.createInterface({ input: child.stdout! }).once('line', (line) => resolve({ child, url: JSON.parse(line).url }));
  });
}

test('SIGKILL loses no acknowledged data', async () => {
  const data = path.join(tmpDir(), 'perf.db');
  const first = await startProcess(data);
  const r = new Recorder({ service: 'shop', onWarning: () => {} });
  let acknowledged = 0;
  for (let batch = 0; batch < 20; batch++) {
    for (let i = 0; i < 50; i++) r.histogram('http.server.request.duration', { unit: 's' }).record(0.01, { 'http.route': `/r${i % 5}`, 'http.request.method': 'GET', 'http.response.status_code': '200' });
    const res = await fetch(`${first.url}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(buildMetricsRequest(r.collect())) });
    if (res.status === 200) acknowledged += 50;
  }
  first.child.kill('SIGKILL');
  await new Promise((res) => first.child.once('exit', res));
  const second = await startProcess(data);
  try {
    const m = await json(fetch(`${second.url}/api/metrics?from=-10m`));
    assert.equal(acknowledged, 1000);
    assert.equal(m.throughput.requests, acknowledged);
  } finally {
    second.child.kill('SIGTERM');
    await new Promise((res) => second.child.once('exit', res));
  }
});

test('start refuses a busy port with a clear message, exit 2', async () => {
  const server = await createServer({ config: testConfig({ store: { path: `${tmpDir()}/p.db` } }) });
  const res = await cli(['start', '--port', String(server.port), '--data', `${tmpDir()}/q.db`]);
  assert.equal(res.code, 2);
  assert.match(res.err, /in use/);
  await server.close();
});
