// What reading a property costs on an object whose hidden class is its own — as every request and
// response is after Express's prototype swap (docs/decisions.md): looked up (`o.statusCode`, which
// misses V8's inline caches every time), read from the own property's descriptor (what
// src/instrument/source.ts did until 2026-12-01), and read with Reflect.get (read() there now).
// Each object gets a prototype of its own, so, as in the server, no two share a hidden class; fresh
// objects every round.
//   node --import tsx bench/own-property.ts [objects per round] [rounds]
import { read } from '../src/instrument/source.js';
import { fmt, machine, median, save, table } from './lib.js';

const N = Number(process.argv[2] ?? 200_000);
const ROUNDS = Number(process.argv[3] ?? 7);

interface Swapped {
  statusCode: number;
  route: { path: string } | undefined;
  baseUrl: string;
}
const shared = { method: 'GET' };
const make = (i: number): Swapped => Object.setPrototypeOf({ id: i, statusCode: 200, route: { path: '/p' }, baseUrl: '' }, Object.create(shared)) as Swapped;

const ownDescriptor = Object.getOwnPropertyDescriptor;
const described = <T extends object, K extends keyof T & string>(o: T, key: K): T[K] => {
  const d = ownDescriptor(o, key);
  return d !== undefined && 'value' in d ? (d.value as T[K]) : o[key];
};

const readers = {
  lookedUp: (o: Swapped) => o.statusCode + (o.route ? 1 : 0) + o.baseUrl.length,
  described: (o: Swapped) => described(o, 'statusCode') + (described(o, 'route') ? 1 : 0) + described(o, 'baseUrl').length,
  read: (o: Swapped) => read(o, 'statusCode') + (read(o, 'route') ? 1 : 0) + read(o, 'baseUrl').length,
};
const names = Object.keys(readers) as (keyof typeof readers)[];
const samples = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<keyof typeof readers, number[]>;
let sink = 0;
for (let r = 0; r < ROUNDS + 1; r++) {
  for (const name of names) {
    const objects = Array.from({ length: N }, (_, i) => make(i));
    const t0 = process.hrtime.bigint();
    for (const o of objects) sink += readers[name](o);
    // per property: three per object; the first round only warms up
    if (r > 0) samples[name].push(Number(process.hrtime.bigint() - t0) / N / 3);
  }
}
if (sink !== N * 201 * (ROUNDS + 1) * names.length) throw new Error('the reads did not read what was written');

const rows = Object.fromEntries(names.map((n) => [n, median(samples[n])])) as Record<keyof typeof readers, number>;
save('own-property', { objects: N, rounds: ROUNDS, nsPerRead: rows });
console.log(`machine: ${machine()}\n${N} objects per round, median of ${ROUNDS} rounds\n`);
console.log(
  table(
    ['read of an own property, object with a hidden class of its own', 'ns per read'],
    [
      ['looked up (o.key)', fmt(rows.lookedUp, 0)],
      ['from its descriptor (Object.getOwnPropertyDescriptor)', fmt(rows.described, 0)],
      ['Reflect.get (read(o, key))', fmt(rows.read, 0)],
    ],
  ),
);
