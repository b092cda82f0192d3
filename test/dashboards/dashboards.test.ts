// Dashboards as code: the shipped files validate; errors name the file, line and field; the Grafana
// export's PromQL passes promtool and its grid fits; the CloudWatch body has the documented shape.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { loadDashboards, parseDashboard, toCloudWatch, toGrafana } from '../../src/dashboards/dashboards.js';
import { main } from '../../src/cli/cli.js';
import { tmpDir } from '../helpers.js';

test('the shipped dashboards validate', () => {
  const all = loadDashboards();
  assert.deepEqual(all.map((d) => d.name), ['monitoring', 'optimization', 'performance']);
  for (const d of all) assert.ok(d.panels.length >= 5, d.name);
});

test('a bad dashboard is refused with file:line:col and the field', () => {
  assert.throws(() => parseDashboard('{\n  "title": "x",\n  "panels": [\n    { "id": "a", "title": "A", "type": "pie" }\n  ]\n}', 'bad.json'), /bad\.json:4:\d+: panels\[0\]\.type: /);
  assert.throws(() => parseDashboard('{ "title": "x", "panels": [{ "id": "a", "title": "A", "type": "timeseries" }] }', 'empty.json'), /empty\.json:1:\d+: panels\[0\]\.queries: a timeseries panel needs at least one query/);
  assert.throws(() => parseDashboard('{ "title": "x", "panels": [{ "id": "a", "title": "A", "type": "alerts" }, { "id": "a", "title": "B", "type": "slos" }] }', 'dup.json'), /duplicate panel id a/);
  assert.throws(() => parseDashboard('{ "title": "x", "range": "soon", "panels": [{ "id": "a", "title": "A", "type": "alerts" }] }', 'range.json'), /range: a duration/);
});

test('Grafana: a 24-column grid without overlaps, PromQL that promtool accepts, server-only panels skipped with a reason', (t) => {
  const exprs: string[] = [];
  for (const d of loadDashboards()) {
    const { dashboard, skipped } = toGrafana(d);
    const panels = dashboard.panels as { gridPos: { x: number; y: number; w: number; h: number }; targets: { expr: string }[]; type: string }[];
    assert.equal(dashboard.uid, `solemate-${d.name}`);
    for (const p of panels) {
      assert.ok(p.gridPos.x + p.gridPos.w <= 24, JSON.stringify(p.gridPos));
      assert.ok(['timeseries', 'stat'].includes(p.type));
      for (const q of p.targets) exprs.push(q.expr);
    }
    for (let i = 0; i < panels.length; i++) for (let j = i + 1; j < panels.length; j++) {
      const a = panels[i].gridPos;
      const b = panels[j].gridPos;
      assert.ok(a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y, `panels ${i} and ${j} overlap`);
    }
    for (const s of skipped) assert.ok(s.reason.length > 10);
  }
  assert.ok(exprs.some((e) => e.startsWith('histogram_quantile(0.95, sum by (le) (rate(http_server_request_duration_seconds_bucket[5m]))) * 1000')), exprs.join('\n'));
  if (spawnSync('promtool', ['--version']).error) return t.skip('promtool not installed (apt-get install prometheus; .ci/run does)');
  const file = path.join(tmpDir(), 'panels.yml');
  fs.writeFileSync(file, `groups:\n  - name: panels\n    rules:\n${exprs.map((e, i) => `      - record: panel_${i}\n        expr: ${JSON.stringify(e)}\n`).join('')}`);
  const r = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});

test('CloudWatch: metric widgets in a 24-column grid, [namespace, metric, dimension pairs…, { stat, period }]', () => {
  const { dashboard, skipped } = toCloudWatch(loadDashboards().find((d) => d.name === 'performance')!, { namespace: 'Shop/Perf', region: 'eu-west-1' });
  assert.ok(dashboard.widgets.length >= 3);
  for (const w of dashboard.widgets as { type: string; x: number; width: number; properties: { region: string; metrics: unknown[][] } }[]) {
    assert.equal(w.type, 'metric');
    assert.ok(w.x + w.width <= 24);
    assert.equal(w.properties.region, 'eu-west-1');
    for (const m of w.properties.metrics) {
      assert.equal(m[0], 'Shop/Perf');
      const opts = m[m.length - 1] as { stat: string; period: number };
      assert.ok(/^(p\d+|Average|Maximum|Minimum|SampleCount)$/.test(opts.stat) && opts.period % 60 === 0, JSON.stringify(opts));
      assert.equal((m.length - 3) % 2, 0, 'dimension name/value pairs');
    }
  }
  assert.deepEqual(skipped.find((s) => s.panel === 'routes'), { panel: 'routes', reason: 'a metric widget line is one dimension set; `by` needs SEARCH()' });
});

test('solemate-perf dashboards lists and exports', async () => {
  const out: string[] = [];
  const err: string[] = [];
  const io = { out: (s: string) => out.push(s), err: (s: string) => err.push(s), env: {} };
  assert.equal(await main(['dashboards'], io), 0);
  assert.match(out.join('\n'), /^monitoring +SoleMate runtime, database and cache — 8 panels/);
  const file = path.join(tmpDir(), 'g.json');
  assert.equal(await main(['dashboards', 'export', 'performance', '--format', 'grafana', '--out', file], io), 0);
  assert.equal(JSON.parse(fs.readFileSync(file, 'utf8')).schemaVersion, 39);
  assert.match(err.join('\n'), /skipped slos: slos panels show the performance server's own lists/);
  assert.equal(await main(['dashboards', 'export', 'nope', '--format', 'grafana'], io), 2);
  assert.equal(await main(['dashboards', 'export', 'performance', '--format', 'pdf'], io), 2);
});
