// What reading a property costs on an object whose hidden class is its own — as every request and
// response is after Express's prototype swap (docs/decisions.md) — looked up (`o.statusCode`) versus
// read from the own property's descriptor (own() in src/instrument/source.ts). Each object gets a
// prototype of its own, so, as in the server, no two share a hidden class and every lookup misses
// V8's caches; fresh objects every round.
//   node --import tsx bench/own-property.ts [objects per round] [rounds]
import { own } from '../src/instrument/source.js';
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

const lookedUp = (o: Swapped) => o.statusCode + (o.route ? 1 : 0) + o.baseUrl.length;
const described = (o: Swapped) => own(o, 'statusCode') + (own(o, 'route') ? 1 : 0) + own(o, 'baseUrl').length;

const samples = { lookedUp: [] as number[], described: [] as number[] };
let sink = 0;
for (let r = 0; r < ROUNDS + 1; r++) {
  for (const [name, read] of [
    ['lookedUp', lookedUp],
    ['described', described],
  ] as const) {
    const objects = Array.from({ length: N }, (_, i) => make(i));
    const t0 = process.hrtime.bigint();
    for (const o of objects) sink += read(o);
    // per property: three per object; the first round only warms up
    if (r > 0) samples[name].push(Number(process.hrtime.bigint() - t0) / N / 3);
  }
}
if (sink !== (N * 201 * (ROUNDS + 1) * 2)) throw new Error('the reads did not read what was written');

const rows = { lookedUp: median(samples.lookedUp), described: median(samples.described) };
save('own-property', { objects: N, rounds: ROUNDS, nsPerRead: rows });
console.log(`machine: ${machine()}\n${N} objects per round, median of ${ROUNDS} rounds\n`);
console.log(table(['read of an own property, object with a hidden class of its own', 'ns per read'], [['looked up (o.key)', fmt(rows.lookedUp, 0)], ['from its descriptor (own(o, key))', fmt(rows.described, 0)]]));
