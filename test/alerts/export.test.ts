// The rules as a Prometheus rule file: promtool accepts it, and the PromQL says what our rules say.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { promql, toPrometheusRules } from '../../src/alerts/export.js';
import { loadRules, parseRuleFile } from '../../src/alerts/rules.js';
import { tmpDir } from '../helpers.js';

const promtool = spawnSync('promtool', ['--version']);
const skip = promtool.error ? 'promtool not installed (apt-get install -y prometheus; .ci/run installs it)' : false;

test('the shipped rules export to a file promtool check rules accepts', { skip }, () => {
  const { rules } = loadRules(['performance/alerts']);
  const out = toPrometheusRules(rules);
  assert.deepEqual(out.skipped, [], 'every shipped rule has a PromQL form');
  const file = path.join(tmpDir(), 'rules.yml');
  fs.writeFileSync(file, out.yaml);
  const r = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, new RegExp(`SUCCESS: ${rules.length} rules found`));
  const doc = parse(out.yaml);
  const rc = doc.groups.find((g: { name: string }) => g.name === 'performance.performance').rules.find((x: { alert: string }) => x.alert === 'ResponseTimeCritical');
  assert.equal(rc.for, '2m');
  assert.equal(rc.keep_firing_for, '5m');
  assert.equal(rc.labels.severity, 'critical');
  // a gauge in seconds against a threshold in ms: the p99 the runtime sampler reports, × 1000
  const lag = doc.groups.flatMap((g: { rules: { alert: string; expr: string }[] }) => g.rules).find((x: { alert: string }) => x.alert === 'EventLoopLag');
  assert.equal(lag.expr, 'avg by (service_name, service_instance_id) (avg_over_time(nodejs_eventloop_delay_seconds{quantile="p99"}[5m])) * 1000 > 100');
});

test('PromQL per aggregation: units, filters, grouping, error ratio; what cannot be expressed is listed', () => {
  const [p95, errors, max] = parseRuleFile(
    `groups:
  - name: g
    rules:
      - alert: P95
        expr: { metric: http.server.request.duration, aggregation: p95, window: 5m, filters: { service: shop, status: 2xx }, by: [route], op: ">", threshold: 200 }
        annotations: { summary: "{{ $labels.route }} at {{ $value }}" }
      - alert: Errors
        expr: { metric: http.server.request.duration, aggregation: error_ratio, window: 10m, op: ">", threshold: 0.001 }
      - alert: Max
        expr: { metric: http.server.request.duration, aggregation: max, window: 5m, op: ">", threshold: 1 }
`,
    'x.yml',
  );
  const meta = { kind: 'histogram' as const, unit: 's' };
  assert.deepEqual(promql(p95, meta), { expr: 'histogram_quantile(0.95, sum by (http_route, le) (rate(http_server_request_duration_seconds_bucket{service_name="shop",http_response_status_code=~"2.."}[5m]))) * 1000' });
  assert.deepEqual(promql(errors, meta), { expr: 'sum (rate(http_server_request_duration_seconds_count{http_response_status_code=~"5.."}[10m])) / sum (rate(http_server_request_duration_seconds_count[10m]))' });
  assert.ok('skip' in promql(max, meta));
  const out = toPrometheusRules([p95, errors, max]);
  assert.deepEqual(out.skipped.map((s) => s.rule), ['x.yml/g/Max']);
  assert.match(out.yaml, /summary: "\{\{ \$labels\.http_route \}\} at \{\{ \$value \}\}"/);
});

test('alerts command: check exits 2 naming file, line and rule; export writes the Prometheus file', async () => {
  const { main } = await import('../../src/cli/cli.js');
  const run = async (args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(args, { out: (s) => out.push(s), err: (s) => err.push(s), env: {} });
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
  const good = await run(['alerts', 'check', 'performance/alerts']);
  assert.equal(good.code, 0);
  assert.match(good.out, /✓ performance\/alerts\/performance\.yml: 5 rules/);
  const dir = tmpDir();
  fs.writeFileSync(path.join(dir, 'bad.yml'), 'groups:\n  - name: x\n    rules:\n      - alert: Late\n        expr: { metric: m, aggregation: avg, window: 5m, op: ">", threshold: soon }\n');
  const bad = await run(['alerts', 'check', dir, 'performance/alerts/monitoring.yml']);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /bad\.yml:5:\d+: groups\[0\]\.rules\[0\] \(Late\)\.expr\.threshold/);
  assert.match(bad.out, /monitoring\.yml: 7 rules/, 'the good file is still checked');
  const file = path.join(dir, 'prom.yml');
  const exp = await run(['alerts', 'export', '--format', 'prometheus', '--out', file, '--json']);
  assert.equal(exp.code, 0);
  assert.equal(JSON.parse(exp.out).skipped.length, 0);
  assert.match(fs.readFileSync(file, 'utf8'), /alert: ResponseTimeCritical/);
  assert.equal((await run(['alerts', 'export', '--format', 'nagios'])).code, 2);
  assert.equal((await run(['alerts', 'frob'])).code, 2);
});

test('CloudWatch PutMetricAlarm inputs and Datadog monitors: documented fields and values only', async () => {
  const { toCloudWatchAlarms, toDatadogMonitors } = await import('../../src/alerts/export.js');
  const { rules } = loadRules(['performance/alerts']);
  const cw = toCloudWatchAlarms(rules);
  assert.ok(cw.alarms.length >= 3);
  const allowed = new Set(['AlarmName', 'AlarmDescription', 'ActionsEnabled', 'Namespace', 'MetricName', 'Dimensions', 'Statistic', 'ExtendedStatistic', 'Period', 'EvaluationPeriods', 'DatapointsToAlarm', 'Threshold', 'ComparisonOperator', 'TreatMissingData', 'Unit']);
  for (const a of cw.alarms) {
    for (const k of Object.keys(a)) assert.ok(allowed.has(k), `PutMetricAlarm has no parameter ${k}`);
    assert.ok(a.AlarmName.length >= 1 && a.AlarmName.length <= 255);
    assert.equal(a.Period % 60, 0);
    assert.ok((a.Statistic === undefined) !== (a.ExtendedStatistic === undefined), 'exactly one of Statistic and ExtendedStatistic');
    if (a.ExtendedStatistic) assert.match(a.ExtendedStatistic, /^p\d{1,2}(\.\d+)?$/);
    assert.ok(['GreaterThanThreshold', 'GreaterThanOrEqualToThreshold', 'LessThanThreshold', 'LessThanOrEqualToThreshold'].includes(a.ComparisonOperator));
    assert.ok(a.DatapointsToAlarm <= a.EvaluationPeriods);
    assert.ok(a.Dimensions.length <= 30);
  }
  const rc = cw.alarms.find((a) => a.AlarmName === 'ResponseTimeCritical')!;
  assert.deepEqual([rc.Statistic, rc.Period, rc.EvaluationPeriods, rc.Threshold], ['Average', 300, 2, 200]);
  assert.ok(cw.skipped.some((s) => /RouteP95High/.test(s.rule) && /one alarm per value/.test(s.reason)));

  const dd = toDatadogMonitors(rules);
  for (const m of dd.monitors) {
    assert.equal(m.type, 'query alert');
    assert.match(m.query, /^(avg|sum)\(last_\d+m\):[\w]+:[\w.]+\{[^}]*\}( by \{[^}]+\})?(\.as_(rate|count)\(\))? (>|>=|<|<=) -?[\d.]+$/, m.query);
    assert.equal(Number(m.query.split(' ').at(-1)), m.options.thresholds.critical);
    assert.ok(m.priority >= 1 && m.priority <= 5);
  }
  const p95 = dd.monitors.find((m) => m.name === 'RouteP95High')!;
  assert.equal(p95.query, 'avg(last_10m):p95:http.server.request.duration{*} by {http.route} > 0.5', 'ms thresholds become seconds');
  assert.match(p95.message, /\{\{http\.route\.name\}\}/);
});

test('alerts test evaluates rules against the store; alerts silence creates a silence on the server', async () => {
  const { main } = await import('../../src/cli/cli.js');
  const { SqliteStore } = await import('../../src/store/sqlite.js');
  const { createServer } = await import('../../src/server/app.js');
  const { histPoint } = await import('../store/contract.js');
  const { testConfig } = await import('../helpers.js');
  const run = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(args, { out: (s) => out.push(s), err: (s) => err.push(s), env });
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
  const data = path.join(tmpDir(), 'perf.db');
  const store = new SqliteStore(data);
  await store.migrate();
  await store.write([histPoint('http.server.request.duration', { 'http.route': '/slow' }, Date.now() - 20_000, [0.9, 0.95, 1.2])]);
  await store.close();
  const t = await run(['alerts', 'test', 'performance/alerts', '--rule', 'RouteP95High', '--data', data, '--json']);
  assert.equal(t.code, 0, t.err);
  const [r] = JSON.parse(t.out);
  assert.equal(r.rule, 'performance.yml/performance/RouteP95High');
  assert.equal(r.samples[0].labels.route, '/slow');
  assert.equal(r.samples[0].holds, true, `p95 ${r.samples[0].value} ms > 500 ms`);
  assert.equal((await run(['alerts', 'test', 'performance/alerts', '--rule', 'Nope', '--data', data])).code, 2);

  const s2 = new SqliteStore(':memory:');
  await s2.migrate();
  const s = await createServer({ config: testConfig(), store: s2, env: { SOLEMATE_PERF_INGEST_TOKEN: 'tk' } });
  try {
    const denied = await run(['alerts', 'silence', '--url', s.url, '-m', 'alertname=RouteP95High', '--comment', 'deploy']);
    assert.equal(denied.code, 2);
    assert.match(denied.err, /refused the silence: missing or wrong token/);
    const ok = await run(['alerts', 'silence', '--url', s.url, '-m', 'alertname=RouteP95High', '-m', 'route=~/api/.*', '--comment', 'deploy', '--duration', '30m', '--json'], { SOLEMATE_PERF_INGEST_TOKEN: 'tk', USER: 'ana' });
    assert.equal(ok.code, 0, ok.err);
    const created = JSON.parse(ok.out);
    assert.equal(created.createdBy, 'ana');
    assert.deepEqual(created.matchers[1], { name: 'route', op: '=~', value: '/api/.*' });
    assert.equal((await run(['alerts', 'silence', '--url', s.url, '-m', 'nonsense', '--comment', 'x'])).code, 2);
  } finally {
    await s.close();
  }
});
