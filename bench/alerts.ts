// One alert evaluation cycle: 1,000 rules over 10,000 series (100 services × 100 routes of
// http.server.request.duration, five minutes of per-minute rollups each), in the embedded store.
// Ten rule shapes (p95/p99/avg by route, error ratio, rate, max) for each of the 100 services.
//   node --import tsx bench/alerts.ts
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AlertEvaluator } from '../src/alerts/evaluator.js';
import { validateConfig } from '../src/config/load.js';
import { QueryEngine } from '../src/query/engine.js';
import { ExpHistogram } from '../src/model/histogram.js';
import type { MetricPoint } from '../src/model/metrics.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { fmt, machine, median, save, table } from './lib.js';

const SERVICES = 100;
const ROUTES = 100;
const MINUTES = 5;
const now = Math.floor(Date.now() / 60_000) * 60_000;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-alerts-'));
const store = new SqliteStore(path.join(dir, 'perf.db'), { synchronous: 'NORMAL' });
await store.migrate();
let seed = 1;
const rnd = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32);
for (let m = MINUTES; m >= 1; m--) {
  const points: MetricPoint[] = [];
  for (let s = 0; s < SERVICES; s++) {
    for (let r = 0; r < ROUTES; r++) {
      const h = new ExpHistogram();
      for (let i = 0; i < 20; i++) h.record(0.005 + rnd() * 0.2);
      points.push({ metric: 'http.server.request.duration', kind: 'histogram', unit: 's', service: `svc-${s}`, instance: 'i', attributes: { 'http.route': `/r${r}/:id`, 'http.request.method': 'GET', 'http.response.status_code': r % 50 === 0 ? '500' : '200' }, startTime: now - m * 60_000, time: now - m * 60_000 + 30_000, count: h.count, sum: h.sum, min: h.min, max: h.max, last: 0, hist: h.toData() });
    }
  }
  await store.write(points);
}
const shapes = [
  'aggregation: p95, window: 5m, by: [route], op: ">", threshold: 150',
  'aggregation: p99, window: 5m, by: [route], op: ">", threshold: 190',
  'aggregation: avg, window: 5m, by: [route], op: ">", threshold: 120',
  'aggregation: max, window: 5m, by: [route], op: ">", threshold: 204',
  'aggregation: error_ratio, window: 5m, op: ">", threshold: 0.001',
  'aggregation: error_ratio, window: 5m, by: [route], op: ">", threshold: 0.5',
  'aggregation: rate, window: 5m, op: "<", threshold: 1',
  'aggregation: p50, window: 5m, op: ">", threshold: 100',
  'aggregation: p95, window: 5m, by: [method], op: ">", threshold: 150',
  'aggregation: count, window: 5m, by: [status], op: ">", threshold: 1000000',
];
const rulesDir = path.join(dir, 'rules');
fs.mkdirSync(rulesDir);
for (let s = 0; s < SERVICES; s++) {
  const rules = shapes.map((shape, i) => `      - alert: Rule${i}\n        expr: { metric: http.server.request.duration, filters: { service: svc-${s} }, ${shape} }\n        for: 1m`).join('\n');
  fs.writeFileSync(path.join(rulesDir, `svc-${s}.yml`), `groups:\n  - name: svc-${s}\n    rules:\n${rules}\n`);
}
const engine = new QueryEngine(store, validateConfig({}), () => now);
const ev = new AlertEvaluator({ engine, store, ruleDirs: [rulesDir], clock: () => now });
const times: number[] = [];
let last;
for (let i = 0; i < 5; i++) {
  const t0 = performance.now();
  last = await ev.cycle(now + i * 60_000);
  times.push(performance.now() - t0);
}
await store.close();
save('alerts', { series: SERVICES * ROUTES, rules: last!.rules, instances: last!.instances, cycleMs: times });
console.log(`machine: ${machine()}\n${last!.rules} rules, ${SERVICES * ROUTES} series × ${MINUTES} minute rollups, embedded store; cycle = reload rule files + evaluate + persist\n`);
console.log(table(['alert evaluation', 'median cycle', 'first cycle', 'instances'], [[`${last!.rules} rules over ${SERVICES * ROUTES} series`, `${fmt(median(times), 0)} ms`, `${fmt(times[0], 0)} ms`, String(last!.instances)]]));
