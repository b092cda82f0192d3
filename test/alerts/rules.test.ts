import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { loadRules, parseRuleFile, renderTemplate } from '../../src/alerts/rules.js';
import { step, type AlertInstance } from '../../src/alerts/state.js';
import { tmpDir } from '../helpers.js';

const RULES = `groups:
  - name: web
    rules:
      - alert: SlowRoute
        expr: { metric: http.server.request.duration, aggregation: p95, window: 5m, by: [route], op: ">", threshold: 200 }
        for: 1m
        labels: { severity: critical, team: shop }
        annotations: { summary: "p95 of {{ $labels.route }} is {{ $value }} ms" }
      - alert: Errors
        expr: { metric: http.server.request.duration, aggregation: error_ratio, window: 5m, op: ">", threshold: 0.001 }
`;

test('the shipped rule files parse, with severities', () => {
  const set = loadRules(['performance/alerts']);
  assert.deepEqual(set.errors, {});
  assert.ok(set.rules.length >= 10);
  for (const f of ['performance.yml', 'monitoring.yml', 'optimization.yml']) assert.ok(set.rules.some((r) => r.file === f), f);
  assert.ok(set.rules.every((r) => r.labels.severity === 'critical' || r.labels.severity === 'warning'));
});

test('a rule file: defaults, durations, ids', () => {
  const [slow, errors] = parseRuleFile(RULES, '/x/web.yml');
  assert.equal(slow.id, 'web.yml/web/SlowRoute');
  assert.equal(slow.windowMs, 300_000);
  assert.equal(slow.forMs, 60_000);
  assert.equal(slow.keepFiringForMs, 0);
  assert.deepEqual(slow.labels, { severity: 'critical', team: 'shop' });
  assert.equal(errors.labels.severity, 'warning', 'default severity');
});

test('errors name the file, line and rule', () => {
  const bad = (text: string, re: RegExp) =>
    assert.throws(
      () => parseRuleFile(text, 'web.yml'),
      (e: Error) => (assert.match(e.message, re), true),
    );
  bad(RULES.replace('op: ">"', 'op: "=>"'), /^web\.yml:5:\d+: groups\[0\]\.rules\[0\] \(SlowRoute\)\.expr\.op: Invalid enum value/);
  bad(RULES.replace('aggregation: error_ratio', 'aggregation: p42'), /^web\.yml:10:\d+: groups\[0\]\.rules\[1\] \(Errors\)\.expr\.aggregation/);
  bad(RULES.replace('window: 5m, by', 'window: soon, by'), /groups\[0\]\.rules\[0\] \(SlowRoute\)\.expr\.window: a duration/);
  bad(RULES.replace('severity: critical', 'severity: panic'), /\(SlowRoute\)\.labels\.severity: labels\.severity is critical or warning/);
  bad(RULES.replace('alert: Errors', 'alert: SlowRoute'), /SlowRoute appears twice/);
  bad('groups: [', /^web\.yml:\d+:\d+: not valid YAML/);
});

test('a broken file keeps its last good version; the other files keep loading', () => {
  const dir = tmpDir();
  fs.writeFileSync(path.join(dir, 'a.yml'), RULES);
  fs.writeFileSync(path.join(dir, 'b.yml'), RULES.replace('name: web', 'name: other'));
  const first = loadRules([dir]);
  assert.equal(first.rules.length, 4);
  fs.writeFileSync(path.join(dir, 'a.yml'), RULES.replace('threshold: 200', 'threshold: high'));
  const second = loadRules([dir], first);
  assert.match(second.errors['a.yml'], /a\.yml:5:\d+: .*\(SlowRoute\)\.expr\.threshold/);
  assert.equal(second.rules.length, 4, 'a.yml still in force as it was');
  assert.equal(second.rules.find((r) => r.id === 'a.yml/web/SlowRoute')?.expr.threshold, 200);
  assert.equal(loadRules([dir]).rules.length, 2, 'without a previous version only the good file loads');
});

test('templates substitute $value and $labels, and nothing else runs', () => {
  assert.equal(renderTemplate('p95 of {{ $labels.route }} is {{ $value }} ms', 231.456, { route: '/p/:id' }), 'p95 of /p/:id is 231 ms');
  assert.equal(renderTemplate('{{ $value }}', 0.0012345, {}), '0.00123');
  assert.equal(renderTemplate('{{ $labels.missing }}|{{ constructor.constructor("return process")() }}|${process.pid}', 1, {}), '|{{ constructor.constructor("return process")() }}|${process.pid}');
});

test('state machine: pending → firing after `for`, keep_firing_for, resolved; pending drops quietly', () => {
  const rule = { forMs: 60_000, keepFiringForMs: 30_000 };
  const fresh = () => ({ key: 'k', ruleId: 'r', alert: 'A', labels: {}, annotations: {} });
  let s: AlertInstance | undefined;
  const at = (t: number, holds: boolean) => {
    const r = step(s, holds, holds ? 300 : 100, t, rule, fresh);
    s = r.next;
    return r.transition?.kind;
  };
  assert.equal(at(0, true), undefined);
  assert.equal(s?.phase, 'pending');
  assert.equal(at(30_000, true), undefined);
  assert.equal(at(60_000, true), 'firing');
  assert.equal(s?.firedAt, 60_000);
  assert.equal(at(70_000, true), undefined, 'fires once');
  assert.equal(at(80_000, false), undefined, 'kept firing for 30 s after it last held');
  assert.equal(s?.phase, 'firing');
  assert.equal(at(100_001, false), 'resolved');
  assert.equal(s?.phase, 'resolved');
  assert.equal(at(110_000, true), undefined, 'a new cycle starts pending');
  assert.equal(s?.phase, 'pending');
  assert.equal(at(120_000, false), undefined);
  assert.equal(s, undefined, 'pending that stops holding just goes away');
  const immediate = step(undefined, true, 1, 5, { forMs: 0, keepFiringForMs: 0 }, fresh);
  assert.equal(immediate.transition?.kind, 'firing');
});

test('thresholds from monitoring.thresholds at alerting levels; the shipped rules follow the config', () => {
  const text = `groups:
  - name: g
    rules:
      - alert: A
        expr: { metric: http.server.request.duration, aggregation: avg, window: 5m, op: ">", threshold: { from: responseTime, level: warning } }
        annotations: { summary: "over {{ $threshold }} ms" }
      - alert: B
        expr: { metric: http.server.request.duration, aggregation: error_ratio, window: 5m, op: ">", threshold: { from: errorRate } }
`;
  const [a, b] = parseRuleFile(text, 'x.yml', { monitoring: { responseTime: 300, errorRate: 0.5, cpuUsage: 80, memoryUsage: 85 }, levels: { critical: 1, warning: 0.5 } });
  assert.equal(a.expr.threshold, 150);
  assert.equal(b.expr.threshold, 0.005, '% in the config, a ratio in the rule');
  assert.equal(renderTemplate(a.annotations.summary, 0, {}, a.expr.threshold), 'over 150 ms');
  const shipped = loadRules(['performance/alerts']).rules;
  assert.equal(shipped.find((r) => r.alert === 'ResponseTimeWarning')?.expr.threshold, 160);
  assert.equal(shipped.find((r) => r.alert === 'ErrorRateCritical')?.expr.threshold, 0.001);
  assert.equal(shipped.find((r) => r.alert === 'CpuCritical')?.expr.threshold, 0.8);
  assert.throws(() => parseRuleFile(text.replace('from: errorRate', 'from: mood'), 'x.yml'), /threshold/);
});
