// Our load generator against the plain autocannon CLI, same settings, same hello-world server:
// the scenario machinery (weights, variables, histograms, workers) must cost little.
// Server on core 0, load generator on core 1; interleaved rounds, ratio of each pair.
//   npm run build && node --import tsx bench/loadgen.ts [seconds-per-round] [rounds]
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fmt, machine, median, PIN, pinned as pinnedWith, save, table } from './lib.js';

const SECONDS = Number(process.argv[2] ?? 5);
const ROUNDS = Number(process.argv[3] ?? 6);
const CONNECTIONS = 10;
const pinned = (core: number, cmd: string, args: string[]) => pinnedWith(core, cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });

const server = pinned(0, process.execPath, ['-e', "require('node:http').createServer((q, r) => r.end('hello world')).listen(0, '127.0.0.1', function () { console.log(this.address().port) })"]);
const port = await new Promise<number>((resolve) => readline.createInterface({ input: server.stdout! }).once('line', (l) => resolve(Number(l))));
const url = `http://127.0.0.1:${port}/`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loadgen-'));
const scenario = path.join(dir, 'hello.yml');
fs.writeFileSync(scenario, `name: hello\ntarget: ${url}\nroutes: [ { path: / } ]\n`);

function output(p: ChildProcess): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    p.stdout!.on('data', (d) => (text += d));
    p.on('close', () => resolve(text));
  });
}

async function autocannonCli(): Promise<number> {
  const out = await output(pinned(1, process.execPath, ['node_modules/autocannon/autocannon.js', '-c', String(CONNECTIONS), '-d', String(SECONDS), '--json', url]));
  const j = JSON.parse(out);
  return j.requests.total / (j.duration ?? SECONDS);
}

async function ours(): Promise<number> {
  const out = await output(pinned(1, process.execPath, ['dist/cli/main.js', 'loadtest', scenario, '--rate', '0', '--connections', String(CONNECTIONS), '--duration', `${SECONDS}s`, '--no-save', '--json']));
  return JSON.parse(out).rps;
}

await autocannonCli(); // warm-up of the server's JIT
const a: number[] = [];
const b: number[] = [];
const ratios: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const [x, y] = r % 2 ? [await autocannonCli(), await ours()] : [await ours(), await autocannonCli()].reverse();
  a.push(x);
  b.push(y);
  ratios.push(y / x);
  process.stderr.write(`round ${r + 1}/${ROUNDS}: autocannon ${x.toFixed(0)}, ours ${y.toFixed(0)} req/s\n`);
}
server.kill();
const gap = (1 - median(ratios)) * 100;
save('loadgen', { seconds: SECONDS, rounds: ROUNDS, connections: CONNECTIONS, autocannon: a, ours: b, ratios, medianGapPct: gap, targetPct: 5 });
console.log(`machine: ${machine()}\n${ROUNDS} interleaved rounds × ${SECONDS} s, ${CONNECTIONS} connections, no rate limit, GET / on node:http hello world${PIN ? '; server on core 0, load generator on core 1' : ''}\n`);
console.log(table(['load generator', 'median req/s', 'vs autocannon CLI (median of pairs)'], [
  ['autocannon CLI (node_modules/autocannon/autocannon.js)', Math.round(median(a)).toLocaleString(), '—'],
  ['solemate-perf loadtest --rate 0', Math.round(median(b)).toLocaleString(), `${gap >= 0 ? '−' : '+'}${fmt(Math.abs(gap))}% (range ${fmt((Math.min(...ratios) - 1) * 100)}% … ${fmt((Math.max(...ratios) - 1) * 100)}%)`],
]));
