import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { drawVariables, fill, loadScenario, parseScenario } from '../../src/loadtest/scenario.js';
import { evaluateThresholds, parseThreshold } from '../../src/loadtest/thresholds.js';
import { PerfError } from '../../src/errors.js';
import { tmpDir } from '../helpers.js';

const GOOD = `name: shop
variables:
  id: { random: [1, 3] }
  size: { pick: [40, 41] }
routes:
  - { weight: 3, path: "/p/{{id}}" }
  - name: buy
    steps:
      - { method: POST, path: /cart, json: { id: "{{id}}", size: "{{size}}", note: "x{{id}}" } }
thresholds:
  http_req_duration: ["p(95)<200", "avg < 50"]
  http_req_failed: ["rate<0.01"]
`;

test('a valid scenario: routes, flows, variables, thresholds', () => {
  const s = parseScenario(GOOD, 'shop.yml');
  assert.equal(s.routes.length, 2);
  assert.deepEqual(s.routes.map((r) => [r.name, r.weight, r.steps.length]), [['GET /p/{{id}}', 3, 1], ['buy', 1, 1]]);
  assert.equal(s.thresholds.length, 3);
  assert.deepEqual(s.thresholds[0], { metric: 'http_req_duration', expression: 'p(95)<200', aggregate: 'p', percentile: 95, op: '<', value: 200 });
  const vars = drawVariables(s.variables, () => 0.99);
  assert.deepEqual(vars, { id: 3, size: 41 });
  assert.deepEqual(fill(s.routes[1].steps[0].json, vars), { id: 3, size: 41, note: 'x3' }, 'a lone template keeps the type');
  // JSON is YAML too
  assert.equal(parseScenario(JSON.stringify({ name: 'j', routes: [{ path: '/' }] })).routes[0].steps[0].method, 'GET');
});

const expectError = (text: string, re: RegExp) => {
  assert.throws(
    () => parseScenario(text, 'bad.yml'),
    (e: unknown) => {
      assert.ok(e instanceof PerfError && e.code === 'PERF_ERR_USAGE');
      assert.match((e as Error).message, re);
      return true;
    },
  );
};

test('errors name the file, line, column and field', () => {
  expectError(GOOD.replace('method: POST', 'method: FETCH'), /^bad\.yml:9:\d+: routes\[1\]\.steps\[0\]\.method: Invalid enum value/);
  expectError(GOOD.replace('path: "/p/{{id}}"', 'path: "p"'), /^bad\.yml:6:\d+: routes\[0\]\.path: a path starts with "\/"/);
  expectError(GOOD.replace('"/p/{{id}}"', '"/p/{{nope}}"'), /^bad\.yml:6:\d+: routes\[0\]: uses \{\{nope\}\}, which is not under variables/);
  expectError(GOOD.replace('"p(95)<200"', '"p95<200"'), /^bad\.yml:11:\d+: thresholds\.http_req_duration\[0\]: cannot read threshold "p95<200"/);
  expectError(GOOD.replace('http_req_failed', 'http_fails'), /thresholds\.http_fails/);
  expectError(GOOD.replace('weight: 3', 'weight: -3'), /^bad\.yml:6:\d+: routes\[0\]\.weight/);
  expectError(GOOD.replace('random: [1, 3]', 'random: [3, 1]'), /^bad\.yml:3:\d+: variables\.id/);
  expectError('name: x\nroutes: [ { path: / }\n', /^bad\.yml:\d+:\d+: not valid YAML/);
  expectError('routes: []', /^bad\.yml:1:1: name: Required|routes/);
  expectError(GOOD + 'extra: 1\n', /^bad\.yml:13:8: extra: unknown field "extra"/);
});

test('loadScenario: a missing file is a usage error, not a crash', () => {
  const dir = tmpDir();
  assert.throws(() => loadScenario(path.join(dir, 'nope.yml')), /cannot read scenario .*nope\.yml: no such file/);
  fs.writeFileSync(path.join(dir, 's.yml'), GOOD);
  assert.equal(loadScenario(path.join(dir, 's.yml')).source, 's.yml');
});

test('thresholds: k6 expressions, each aggregate where it applies', () => {
  assert.throws(() => parseThreshold('http_req_failed', 'p(95)<1'), /does not apply to http_req_failed/);
  assert.throws(() => parseThreshold('http_req_duration', 'p(0)<1'), /percentile 0/);
  const ts = ['p(99)<100', 'med<=20', 'max<30'].map((e) => parseThreshold('http_req_duration', e));
  ts.push(parseThreshold('http_req_failed', 'rate<0.05'), parseThreshold('http_reqs', 'rate>10'), parseThreshold('http_reqs', 'count>=100'));
  const r = evaluateThresholds(ts, { duration: { avg: 10, min: 1, max: 40, quantile: (q) => q * 100 }, requests: 100, failed: 10, seconds: 5 });
  assert.deepEqual(r.map((x) => [x.expression, x.actual, x.ok]), [
    ['p(99)<100', 99, true],
    ['med<=20', 50, false],
    ['max<30', 40, false],
    ['rate<0.05', 0.1, false],
    ['rate>10', 20, true],
    ['count>=100', 100, true],
  ]);
});
