// The evaluator over a real store: a latency spike on one route fires its alert after `for`, once;
// a restart neither re-pages nor forgets; recovery resolves it; history is kept. On PostgreSQL only
// one replica evaluates at a time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { AlertEvaluator } from '../../src/alerts/evaluator.js';
import { QueryEngine } from '../../src/query/engine.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { PostgresStore } from '../../src/store/postgres.js';
import { histPoint } from '../store/contract.js';
import { freshDatabase, testConfig, tmpDir } from '../helpers.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);

function rulesDir(): string {
  const dir = tmpDir();
  fs.writeFileSync(
    path.join(dir, 'web.yml'),
    `groups:
  - name: web
    rules:
      - alert: SlowRoute
        expr: { metric: http.server.request.duration, aggregation: p95, window: 1m, by: [route], op: ">", threshold: 200 }
        for: 1m
        labels: { severity: critical }
        annotations: { summary: "p95 of {{ $labels.route }} is {{ $value }} ms" }
`,
  );
  return dir;
}

test('spike → pending → firing once → restart keeps it → recovery resolves; history stored', async () => {
  const store = new SqliteStore(':memory:');
  await store.migrate();
  let now = T0;
  const engine = new QueryEngine(store, testConfig(), () => now);
  const dir = rulesDir();
  const fired: string[] = [];
  const make = () => new AlertEvaluator({ engine, store, ruleDirs: [dir], clock: () => now, onTransition: (t) => fired.push(`${t.kind} ${t.instance.labels.route}`) });
  let ev = make();
  const minute = (t: number, slow: boolean) =>
    store.write([histPoint('http.server.request.duration', { 'http.route': '/a' }, t, slow ? [0.3, 0.31, 0.32] : [0.01, 0.02]), histPoint('http.server.request.duration', { 'http.route': '/b' }, t, [0.01, 0.012])]);

  await minute(T0 - 30_000, true);
  let r = await ev.cycle(now);
  assert.equal(r.evaluated, true);
  assert.deepEqual(r.transitions, []);
  assert.deepEqual(ev.active().map((a) => [a.labels.route, a.phase]), [['/a', 'pending']]);

  now = T0 + MIN;
  await minute(T0 + 30_000, true);
  r = await ev.cycle(now);
  assert.deepEqual(fired, ['firing /a']);
  const firing = ev.active()[0];
  assert.equal(firing.phase, 'firing');
  assert.match(firing.annotations.summary, /^p95 of \/a is 3\d\d ms$/);
  assert.equal(firing.labels.severity, 'critical');
  assert.equal(firing.labels.alertname, 'SlowRoute');

  // restart: a new evaluator on the same store continues, without paging again
  ev = make();
  now = T0 + 2 * MIN;
  await minute(T0 + 90_000, true);
  r = await ev.cycle(now);
  assert.deepEqual(r.transitions, []);
  assert.deepEqual(fired, ['firing /a']);
  assert.equal(ev.active()[0].firedAt, T0 + MIN, 'the same alert, fired when it first fired');

  // recovery
  now = T0 + 4 * MIN;
  await minute(T0 + 210_000, false);
  r = await ev.cycle(now);
  assert.deepEqual(fired, ['firing /a', 'resolved /a']);
  assert.deepEqual(ev.active(), []);
  const history = await store.alertEvents({});
  assert.deepEqual(history.map((h) => h.kind), ['resolved', 'firing']);
  assert.equal((history[1].body as { labels: { route: string } }).labels.route, '/a');
  assert.ok(r.durationMs >= 0);
  await store.close();
});

test('a rule file broken between cycles: error reported, its last good version keeps evaluating', async () => {
  const store = new SqliteStore(':memory:');
  await store.migrate();
  const engine = new QueryEngine(store, testConfig(), () => T0);
  const dir = rulesDir();
  const ev = new AlertEvaluator({ engine, store, ruleDirs: [dir], clock: () => T0 });
  await store.write([histPoint('http.server.request.duration', { 'http.route': '/a' }, T0 - 10_000, [0.5])]);
  await ev.cycle();
  fs.writeFileSync(path.join(dir, 'web.yml'), fs.readFileSync(path.join(dir, 'web.yml'), 'utf8').replace('op: ">"', 'op: "bigger"'));
  const r = await ev.cycle();
  assert.match(r.errors['web.yml'], /web\.yml:5:\d+: groups\[0\]\.rules\[0\] \(SlowRoute\)\.expr\.op/);
  assert.equal(r.rules, 1);
  assert.equal(ev.active().length, 1, 'still evaluated');
  await store.close();
});

test('several replicas on PostgreSQL: only the lock holder evaluates', async (t) => {
  const db = await freshDatabase();
  if ('skip' in db) return t.skip(db.skip);
  const a = new PostgresStore(db.url);
  const b = new PostgresStore(db.url);
  try {
    await a.migrate();
    await b.migrate();
    let release!: () => void;
    const held = a.exclusive('alert-evaluation', () => new Promise<string>((r) => (release = () => r('a ran'))));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(await b.exclusive('alert-evaluation', async () => 'b ran'), undefined, 'b is locked out while a evaluates');
    release();
    assert.equal(await held, 'a ran');
    assert.equal(await b.exclusive('alert-evaluation', async () => 'b ran'), 'b ran', 'and takes over afterwards');
    const engine = new QueryEngine(b, testConfig(), () => T0);
    const ev = new AlertEvaluator({ engine, store: b, ruleDirs: [rulesDir()], clock: () => T0 });
    await b.write([histPoint('http.server.request.duration', { 'http.route': '/x' }, T0 - 10_000, [0.4])]);
    assert.equal((await ev.cycle()).evaluated, true);
    assert.equal((await a.loadAlerts()).length, 1, 'state is shared through the store');
  } finally {
    await a.close();
    await b.close();
    await db.drop();
  }
});
