// The load generator and the loadtest command against a real HTTP server on loopback.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { onlyRoutes, runPhase } from '../../src/loadtest/runner.js';
import { parseScenario } from '../../src/loadtest/scenario.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { tmpDir } from '../helpers.js';
import { cli } from '../cli/run.js';

/** The service under test: routes whose behaviour the tests switch. */
const state = { delayMs: 0, seen: new Map<string, number>(), cookies: new Map<string, number>(), sessions: new Set<string>(), checkouts: { ok: 0, refused: 0 }, inflight: 0, volume: 0 };
const target = http.createServer((req, res) => {
  state.inflight++;
  const url = new URL(req.url!, 'http://x');
  const done = (status: number, body = 'ok', headers: Record<string, string> = {}) => {
    const wait = url.pathname === '/stress' ? state.inflight * state.inflight * 0.5 : url.pathname === '/volume' ? state.volume / 25 : state.delayMs;
    setTimeout(() => {
      state.inflight--;
      res.writeHead(status, headers).end(body);
    }, wait);
  };
  state.seen.set(url.pathname, (state.seen.get(url.pathname) ?? 0) + 1);
  if (req.headers.cookie) state.cookies.set(url.pathname, (state.cookies.get(url.pathname) ?? 0) + 1);
  if (url.pathname === '/cart') {
    const sid = crypto.randomBytes(8).toString('hex');
    state.sessions.add(sid);
    return done(201, 'ok', { 'Set-Cookie': `sid=${sid}; Path=/` });
  }
  if (url.pathname === '/checkout') {
    const sid = /sid=(\w+)/.exec(req.headers.cookie ?? '')?.[1];
    const known = sid !== undefined && state.sessions.has(sid);
    state.checkouts[known ? 'ok' : 'refused']++;
    return done(known ? 200 : 401);
  }
  if (url.pathname === '/fail') return done(500);
  done(200);
});
let base = '';
const dir = tmpDir();
before(async () => {
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(target.address() as AddressInfo).port}`;
});
after(() => target.close());

function scenarioFile(name: string, text: string): string {
  const f = path.join(dir, `${name}.yml`);
  fs.writeFileSync(f, text);
  return f;
}

test('weights, variables, flows with their session cookie, expected statuses and failures', async () => {
  state.seen.clear();
  state.cookies.clear();
  const scenario = parseScenario(`
name: mix
variables: { id: { random: [5, 7] } }
routes:
  - { name: a, weight: 6, path: "/a/{{id}}" }
  - { name: b, weight: 2, path: /b }
  - { name: fail, weight: 1, path: /fail }
  - { name: teapot, weight: 1, path: /fail, expect: [500] }
  - { name: buy, weight: 2, steps: [ { method: POST, path: /cart, json: { id: "{{id}}" } }, { method: POST, path: /checkout } ] }
`);
  const r = await runPhase({ target: base, scenario, duration: 2, connections: 4 });
  assert.ok(r.requests > 500, `${r.requests} requests`);
  const a = [5, 6, 7].reduce((n, i) => n + (state.seen.get(`/a/${i}`) ?? 0), 0);
  assert.equal(state.seen.get('/a/4') ?? 0, 0, 'variables stay within their bounds');
  assert.equal(state.seen.get('/a/8') ?? 0, 0);
  const b = state.seen.get('/b') ?? 0;
  assert.ok(Math.abs(a / b - 3) < 0.6, `weights 6:2 → ${a}:${b}`);
  assert.ok(state.checkouts.ok > 20 && state.checkouts.refused === 0, `every checkout carried its cart's cookie: ${JSON.stringify(state.checkouts)}`);
  // … and nothing else did: the next pick on that connection is another visitor
  assert.deepEqual([...state.cookies.keys()], ['/checkout'], JSON.stringify([...state.cookies]));
  // a flow's steps are kept apart, each under the answer it got (the checkouts the server saw, but for those in flight at the end)
  assert.deepEqual(Object.keys(r.routes).sort(), ['a', 'b', 'buy › POST /cart', 'buy › POST /checkout', 'fail', 'teapot']);
  assert.ok(Math.abs(r.routes['buy › POST /checkout'].requests - state.checkouts.ok) <= 4, `${r.routes['buy › POST /checkout'].requests} vs ${state.checkouts.ok}`);
  assert.equal(r.routes.fail.failed, r.routes.fail.requests, '500 is a failure…');
  assert.equal(r.routes.teapot.failed, 0, '…unless the route expects it');
  assert.equal(r.failed, r.routes.fail.failed);
  assert.equal(r.statuses['500'], r.routes.fail.requests + r.routes.teapot.requests);
  // per route: a sample per response (no rate, so nothing to correct), and the routes add up
  for (const [name, x] of Object.entries(r.routes)) assert.equal(x.samples!.length, x.requests, name);
  assert.equal(Object.values(r.routes).reduce((n, x) => n + x.bytes!, 0), r.bytes);
  const b2 = onlyRoutes(r, ['b']);
  assert.deepEqual([b2.requests, b2.samples.length, b2.latency.count, Object.keys(b2.routes)], [r.routes.b.requests, r.routes.b.requests, r.routes.b.requests, ['b']]);
});

test('a target rate is held; coordinated omission is corrected when the server stalls', async () => {
  const scenario = parseScenario('name: r\nroutes: [ { path: / } ]');
  const r = await runPhase({ target: base, scenario, duration: 2, connections: 2, rate: 100 });
  // autocannon limits the rate in whole-second buckets: a 2-s run sends between 2 and 3 seconds' worth
  assert.ok(r.requests >= 170 && r.requests <= 315, `${r.requests} requests at 100/s for 2 s`);
  state.delayMs = 200; // every request now takes 200 ms where one was due every 20 ms per connection
  const slow = await runPhase({ target: base, scenario, duration: 2, connections: 2, rate: 100 });
  state.delayMs = 0;
  assert.ok(slow.corrected.count > slow.latency.count * 5, `${slow.corrected.count} corrected vs ${slow.latency.count} measured`);
  assert.ok(slow.corrected.min < 30, 'the hidden requests would have waited less than the stall');
});

test('a warm-up on the same connections is not counted: slow first answers stay out of the result', async () => {
  const scenario = parseScenario('name: warm\nroutes: [ { path: /warm } ]');
  // the server is slow for its first 600 ms (a cold start), fast after
  const slowUntil = Date.now() + 600;
  const timer = setInterval(() => (state.delayMs = Date.now() < slowUntil ? 100 : 0), 5);
  state.delayMs = 100;
  const before = state.seen.get('/warm') ?? 0;
  const r = await runPhase({ target: base, scenario, duration: 1, connections: 2, rate: 50, warmup: 1, thread: true });
  clearInterval(timer);
  state.delayMs = 0;
  const sent = (state.seen.get('/warm') ?? 0) - before;
  assert.ok(sent > r.requests + 10, `${sent} requests sent, ${r.requests} counted: the warm-up's are not`);
  assert.ok(r.requests >= 30, `${r.requests} counted at 50/s for 1 s`);
  assert.ok(r.latency.max < 100, `no answer of the slow start counted (max ${r.latency.max.toFixed(1)} ms)`);
  // (under a loaded test run autocannon may overrun its end by a second: no upper bound here)
  assert.ok(r.seconds >= 0.9, `${r.seconds} s counted`);
  assert.ok(r.windows.every((w) => w.t > 0), 'windows start after the warm-up');
});

test('workers split the load and their results merge', async () => {
  const scenario = parseScenario('name: w\nroutes: [ { path: /w } ]');
  const r = await runPhase({ target: base, scenario, duration: 2, connections: 4, rate: 200, workers: 2 });
  // autocannon limits the rate in whole-second buckets, so a 2-s run can see a third bucket's worth
  assert.ok(r.requests >= 300 && r.requests <= 650, `${r.requests} at 200/s for 2 s`);
  assert.equal(r.latency.count, r.requests);
  assert.ok(r.windows.length >= 1);
  assert.equal(r.routes['GET /w'].samples!.length, r.samples.length, 'per-route samples merge like the phase samples');
});

test('loadtest command: thresholds pass then break (exit 3), runs are stored, a regression is found', async () => {
  const f = scenarioFile('steady', `name: steady\ntarget: ${base}\nroutes: [ { path: /steady } ]\nthresholds: { http_req_duration: ["p(95)<100"] }\n`);
  const data = path.join(dir, 'perf.db');
  const first = await cli(['loadtest', f, '--duration', '2s', '--rate', '100', '--data', data, '-q']);
  assert.equal(first.code, 0, first.err + first.out);
  assert.match(first.out, /✓ http_req_duration p\(95\)<100/);
  assert.match(first.out, /PASSED — stored as run/);
  state.delayMs = 15;
  const second = await cli(['loadtest', f, '--duration', '2s', '--rate', '100', '--data', data, '--baseline', 'latest', '--json']);
  state.delayMs = 0;
  assert.equal(second.code, 3, 'slower than the baseline: a regression fails the run');
  const j = JSON.parse(second.out);
  assert.equal(j.comparison.verdict, 'regressed');
  assert.ok(j.comparison.test.p < 0.05);
  assert.ok(j.comparison.shift.low > 5, `shift CI ${j.comparison.shift.low}…${j.comparison.shift.high} ms above 5 ms`);
  assert.equal(j.samples > 100, true);
  const breach = await cli(['loadtest', f, '--duration', '1s', '--rate', '50', '--data', data, '-q', '--threshold', 'http_req_duration=max<0.001']);
  assert.equal(breach.code, 3);
  assert.match(breach.out, /✗ http_req_duration max<0.001/);
  const store = new SqliteStore(data);
  await store.migrate();
  const runs = await store.listRuns({ scenario: 'steady' });
  await store.close();
  assert.equal(runs.length, 3);
  assert.equal(runs[1].passed, false);
  assert.equal(runs[2].environment.node, process.version);
  assert.ok(runs[2].gitRevision === undefined || /^[0-9a-f]{40}(-dirty)?$/.test(runs[2].gitRevision));
});

test('stress: concurrency doubles until a threshold breaks; USL capacity from the steps', async () => {
  const f = scenarioFile('stress', `name: stress\ntarget: ${base}\nroutes: [ { path: /stress } ]\nthresholds: { http_req_duration: ["p(95)<40"] }\n`);
  const r = await cli(['loadtest', f, '--profile', 'stress', '--step-duration', '1s', '--max-concurrency', '64', '--no-save', '--json']);
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  // the server waits inflight² × 0.5 ms: p95 passes 40 ms between 8 and 16 concurrent requests
  assert.ok(j.breakingPoint, r.out);
  assert.ok([8, 16].includes(j.breakingPoint.concurrency), `broke at ${j.breakingPoint.concurrency}`);
  assert.match(j.breakingPoint.reason, /p\(95\)<40/);
  assert.ok(j.steps.length >= 4);
  assert.ok(j.capacity && j.capacity.r2 > 0.8, JSON.stringify(j.capacity));
  assert.ok(j.capacity.peakConcurrency > 1 && j.capacity.peakConcurrency < 20, `peak at ${j.capacity.peakConcurrency}`);
});

test('endurance: latency that grows over the run is reported as drift (exit 3); memory by pid', async () => {
  const f = scenarioFile('soak', `name: soak\ntarget: ${base}\nroutes: [ { path: /soak } ]\n`);
  const grow = setInterval(() => (state.delayMs += 1), 100);
  const r = await cli(['loadtest', f, '--profile', 'endurance', '--duration', '8s', '--window', '1s', '--rate', '40', '--connections', '4', '--pid', String(process.pid), '--no-save', '--json']);
  clearInterval(grow);
  state.delayMs = 0;
  const j = JSON.parse(r.out);
  assert.equal(j.drift.drifting, true, JSON.stringify(j.drift));
  assert.ok(j.drift.latency.perHour > 0);
  assert.ok(j.drift.memory, 'RSS sampled from /proc');
  assert.equal(r.code, 3);
});

test('volume: a setup command per volume; latency growth fitted against volume', async () => {
  const f = scenarioFile('volume', `name: volume\ntarget: ${base}\nroutes: [ { path: /volume } ]\n`);
  const marker = path.join(dir, 'volume.txt');
  // the "seed" writes the volume where the test server reads it: delay = volume / 25 ms (large against the fixed overhead a busy machine adds)
  const poll = setInterval(() => {
    if (fs.existsSync(marker)) state.volume = Number(fs.readFileSync(marker, 'utf8'));
  }, 20);
  const r = await cli(['loadtest', f, '--profile', 'volume', '--volumes', '500,1000,2000', '--setup', `echo {volume} > ${marker} && sleep 0.1`, '--duration', '2s', '--rate', '100', '--no-save', '--json']);
  clearInterval(poll);
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  assert.deepEqual(j.steps.map((s: { x: number }) => s.x), [500, 1000, 2000]);
  assert.ok(j.growth.exponent > 0.7 && j.growth.exponent < 1.3, `latency ∝ volume^${j.growth.exponent}: ${JSON.stringify(j.steps.map((s: { latency: { p95: number } }) => s.latency.p95))}`);
});

test('bad input: scenario errors exit 2 with file and line; unreachable target and foreign hosts are refused clearly', async () => {
  const bad = scenarioFile('bad', `name: bad\nroutes:\n  - { path: /x, method: FETCH }\n`);
  const r1 = await cli(['loadtest', bad, '--target', base]);
  assert.equal(r1.code, 2);
  assert.match(r1.err, /bad\.yml:3:\d+: routes\[0\]\.method/);
  const ok = scenarioFile('ok', 'name: ok\nroutes: [ { path: / } ]\n');
  const closed = http.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((r) => closed.close(r));
  const r2 = await cli(['loadtest', ok, '--target', `http://127.0.0.1:${port}`, '--no-save']);
  assert.equal(r2.code, 1);
  assert.match(r2.err, /cannot reach http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\); is the service running\?/);
  assert.doesNotMatch(r2.err, /\n\s+at /, 'no stack trace');
  const r3 = await cli(['loadtest', ok, '--target', 'http://example.com/']);
  assert.equal(r3.code, 2);
  assert.match(r3.err, /refusing to load example\.com/);
  const r4 = await cli(['loadtest', ok, '--target', base, '--profile', 'chaos']);
  assert.equal(r4.code, 2);
  const r5 = await cli(['loadtest', ok, '--target', base, '--threshold', 'p(95)<10']);
  assert.equal(r5.code, 2);
  assert.match(r5.err, /write metric=expression/);
  const r6 = await cli(['loadtest', path.join(dir, 'missing.yml')]);
  assert.equal(r6.code, 2);
});

test('expected statuses are per step: a flow may accept a 4xx on one step and not on another', async () => {
  const scenario = parseScenario(`
name: flow-expect
routes:
  - steps:
      - { path: /ok }
      - { path: /fail, expect: [500] }
      - { path: /fail }
`);
  const r = await runPhase({ target: base, scenario, duration: 1, connections: 2 });
  const statuses = r.statuses['500'];
  assert.ok(statuses > 10);
  // of every two 500s, one was expected
  assert.ok(Math.abs(r.failed - statuses / 2) <= 2, `${r.failed} failed of ${statuses} 500s`);
});
