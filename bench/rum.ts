// Real-user beacons into the embedded store (issue 26: ≥ 20,000 beacons/s on one core). The server
// (`solemate-perf start`, built) runs on core 0; wrk posts beacons from core 1, 500 distinct ones in
// turn (100 product pages × 5 viewports; LCP, INP, CLS, FCP, TTFB with attribution, and the
// navigation timing), as sendBeacon sends them (text/plain, an Origin header). Beside it, in the same
// run and on the same core, a bare Fastify route that only JSON.parses the body and answers 204:
// what a beacon costs before we check, template and merge it. Afterwards every accepted beacon must
// be in the store: /api/rum's LCP count equals the server's accepted counter.
//   npm run build && node --import tsx bench/rum.ts [seconds per run (default 10)] [rounds (default 3)]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { machine, median, pinned, requireWrk, save, table, wrk } from './lib.js';

const SECONDS = Number(process.argv[2] ?? 10);
const ROUNDS = Number(process.argv[3] ?? 3);
const TARGET = 20_000;
requireWrk('a JavaScript load generator would share the cores it measures');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'solemate-rum-bench-'));
const beacons = Array.from({ length: 500 }, (_, i) => {
  const lcp = 800 + ((i * 37) % 4000);
  return JSON.stringify({
    v: 1,
    service: 'shop-web',
    url: `https://shop.example/products/${1000 + (i % 100)}?utm_source=mail&i=${i}`,
    metrics: [
      { name: 'LCP', value: lcp, rating: lcp <= 2500 ? 'good' : 'poor', delta: lcp, id: `v5-${i}-lcp`, navigationType: 'navigate', attribution: { target: 'main>div.gallery>img.hero', url: `https://cdn.example/products/${i % 100}.avif`, timeToFirstByte: 120, resourceLoadDelay: 40, resourceLoadDuration: 300, elementRenderDelay: 20 } },
      { name: 'INP', value: 40 + (i % 300), rating: 'good', delta: 40, id: `v5-${i}-inp`, navigationType: 'navigate', attribution: { interactionTarget: 'button#add-to-cart', interactionType: 'pointer', inputDelay: 5, processingDuration: 30, presentationDelay: 10 } },
      { name: 'CLS', value: (i % 30) / 100, rating: 'good', delta: 0.01, id: `v5-${i}-cls`, navigationType: 'navigate', attribution: { largestShiftTarget: 'div#banner', largestShiftValue: 0.05 } },
      { name: 'FCP', value: 300 + (i % 900), rating: 'good', delta: 300, id: `v5-${i}-fcp`, navigationType: 'navigate', attribution: { timeToFirstByte: 120, firstByteToFCP: 200, loadState: 'dom-content-loaded' } },
      { name: 'TTFB', value: 50 + (i % 400), rating: 'good', delta: 50, id: `v5-${i}-ttfb`, navigationType: 'navigate', attribution: { waitingDuration: 1, dnsDuration: 2, connectionDuration: 3, requestDuration: 40 } },
    ],
    nav: { loadTime: lcp + 400, domContentLoaded: lcp - 100, transferBytes: 200_000 + i * 10, resources: 20 + (i % 10) },
    device: { viewport: [390, 412, 800, 1280, 1920][i % 5], connection: '4g', userAgent: 'Mozilla/5.0 (bench)' },
  });
});
const lua = path.join(tmp, 'beacons.lua');
fs.writeFileSync(
  lua,
  `local bodies = {\n${beacons.map((b) => `  [==[${b}]==],`).join('\n')}\n}\nlocal i = 0\nwrk.method = "POST"\nwrk.headers["Content-Type"] = "text/plain;charset=UTF-8"\nwrk.headers["Origin"] = "http://127.0.0.1:8080"\nrequest = function()\n  i = i % #bodies + 1\n  return wrk.format(nil, "/v1/rum", nil, bodies[i])\nend\n`,
);
const avgBytes = beacons.reduce((n, b) => n + b.length, 0) / beacons.length;

async function firstLine(child: ReturnType<typeof pinned>): Promise<string> {
  const lines = readline.createInterface({ input: child.stdout! });
  for await (const line of lines) return line;
  throw new Error('no output');
}

/** Our server, started as a user starts it, with the per-address rate out of the way (wrk is one address). */
async function ours(): Promise<{ url: string; stop: () => Promise<void>; pid: number }> {
  const config = path.join(tmp, 'config.yml');
  fs.writeFileSync(config, 'rum:\n  beaconsPerClientPerMinute: 100000000\nalerting:\n  enabled: false\n');
  const child = pinned(0, process.execPath, ['dist/cli/main.js', 'start', '--port', '0', '--data', path.join(tmp, `perf-${Date.now()}.db`), '--config', config, '--json']);
  const url = (JSON.parse(await firstLine(child)) as { url: string }).url;
  return { url, pid: child.pid!, stop: () => new Promise((r) => (child.once('exit', r), child.kill('SIGTERM'))) };
}

/** The ceiling: Fastify parsing the same body as JSON and answering 204, nothing else. */
async function bare(): Promise<{ url: string; stop: () => Promise<void> }> {
  const script = path.join(tmp, 'bare.mjs');
  fs.writeFileSync(
    script,
    `import Fastify from ${JSON.stringify(path.resolve('node_modules/fastify/fastify.js'))};\nconst app = Fastify();\napp.addContentTypeParser('text/plain', { parseAs: 'string' }, (_r, b, done) => done(null, b));\napp.post('/v1/rum', async (req, reply) => { JSON.parse(req.body); return reply.status(204).send(); });\nconsole.log(await app.listen({ port: 0, host: '127.0.0.1' }));\n`,
  );
  const child = pinned(0, process.execPath, [script]);
  const url = await firstLine(child);
  return { url, stop: () => new Promise((r) => (child.once('exit', r), child.kill('SIGTERM'))) };
}

const load = async (url: string) => (await wrk(['-t1', '-c32', `-d${SECONDS}s`, '-s', lua, url])).rps;
const rows: { round: number; ours: number; bare: number; stored: boolean }[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const a = await ours();
  const b = await bare();
  try {
    await load(a.url); // warm-up
    await load(b.url);
    // in turn, the order alternating from round to round
    let oursRps: number;
    let bareRps: number;
    if (r % 2) {
      bareRps = await load(b.url);
      oursRps = await load(a.url);
    } else {
      oursRps = await load(a.url);
      bareRps = await load(b.url);
    }
    // every accepted beacon is in the store after the next flush (rum.flushSeconds, 10)
    await new Promise((res) => setTimeout(res, 11_000));
    const metrics = await (await fetch(`${a.url}/metrics`)).text();
    const accepted = Number(/^solemate_perf_rum_beacons_total\{result="accepted"\} (\d+)$/m.exec(metrics)?.[1]);
    const report = (await (await fetch(`${a.url}/api/rum?from=-1h`)).json()) as { pages: { vitals: { LCP?: { count: number } } }[] };
    const lcp = report.pages.reduce((n, p) => n + (p.vitals.LCP?.count ?? 0), 0);
    rows.push({ round: r + 1, ours: oursRps, bare: bareRps, stored: lcp === accepted });
    process.stderr.write(`round ${r + 1}: ours ${Math.round(oursRps)} beacons/s, bare JSON.parse ${Math.round(bareRps)}/s; stored ${lcp} of ${accepted} accepted\n`);
  } finally {
    await a.stop();
    await b.stop();
  }
}
fs.rmSync(tmp, { recursive: true, force: true });

const oursMedian = median(rows.map((r) => r.ours));
const bareMedian = median(rows.map((r) => r.bare));
console.log(`\nbench/rum.ts — ${new Date().toISOString()}; ${ROUNDS} rounds × ${SECONDS} s, wrk -c32 on core 1, server on core 0; beacons of ${Math.round(avgBytes)} bytes (5 vitals + nav); ${machine()}\n`);
console.log(
  table(
    ['server', 'beacons/s (median)', 'per round', 'target'],
    [
      ['solemate-perf /v1/rum (origin, rate, check, template, merge; stored every 10 s)', Math.round(oursMedian).toLocaleString('en-US'), rows.map((r) => Math.round(r.ours)).join(', '), `≥ ${TARGET.toLocaleString('en-US')}: ${oursMedian >= TARGET ? 'met' : 'NOT met'}`],
      ['Fastify, JSON.parse and 204 only (the ceiling)', Math.round(bareMedian).toLocaleString('en-US'), rows.map((r) => Math.round(r.bare)).join(', '), ''],
    ],
  ),
);
console.log(`\nours / ceiling: ${((oursMedian / bareMedian) * 100).toFixed(0)}%; every accepted beacon stored: ${rows.every((r) => r.stored) ? 'yes' : 'NO'}`);
save('rum', { seconds: SECONDS, rounds: rows, oursMedian, bareMedian, avgBytes });
