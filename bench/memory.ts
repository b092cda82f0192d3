// 1M distinct values of one tag: our series are capped (2000 + overflow) and the heap stays flat.
// prom-client, beside it, keeps every label set (shown for 100k values: 1M takes minutes there).
//   node --expose-gc --import tsx bench/memory.ts
import client from 'prom-client';
import { Recorder } from '../src/sdk/recorder.js';
import { fmt, machine, save, table } from './lib.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');
const heap = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
};

function measure(n: number, record: (i: number) => void): number {
  const before = heap();
  for (let i = 0; i < n; i++) record(i);
  return heap() - before;
}

const r = new Recorder({ onWarning: () => {} });
const h = r.histogram('http.server.request.duration', { unit: 's' });
const ours = measure(1_000_000, (i) => h.record(0.01 + (i % 100) * 1e-3, { route: '/p', user: `user-${i}` }));
const points = r.collect();

const registry = new client.Registry();
const prom = new client.Histogram({ name: 'd', help: 'h', labelNames: ['route', 'user'], registers: [registry] });
const promGrowth = measure(100_000, (i) => prom.observe({ route: '/p', user: `user-${i}` }, 0.01));

const result = { oursHeapGrowthMB: ours, oursSeries: points.length, oursOverflowed: r.overflowed, promClient100kHeapGrowthMB: promGrowth, targetMB: 20 };
save('memory', result);
console.log(`machine: ${machine()}\n`);
console.log(table(['recorder', 'distinct tag values', 'series kept', 'heap growth'], [
  ['solemate (cap 2000 + overflow)', '1,000,000', points.length, `${fmt(ours)} MB`],
  ['prom-client (no cap)', '100,000', '100,000', `${fmt(promGrowth)} MB`],
]));
