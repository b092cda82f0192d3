// solemate-perf lighthouse against a real page in headless Chromium (Lighthouse 12): the
// representative run's figures, a Lighthouse CI assertion that fails the exit code, runs stored on
// the performance server by revision and compared, and the clear errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { memoryServers } from '../server/memory-server.js';
import { json, tmpDir } from '../helpers.js';
import { cli } from './run.js';

const CHROME = process.env.CHROME_PATH ?? '/usr/bin/chromium';
const skip = fs.existsSync(CHROME) ? false : `Chromium not found at ${CHROME}: apt-get install -y chromium, or set CHROME_PATH`;
if (skip) console.warn(`# skipping the Lighthouse tests: ${skip}`);
const start = memoryServers();

/** A page with 200 KB of script in its head: a budget of 100 KB fails. */
async function site(t: { after: (fn: () => unknown) => void }): Promise<string> {
  const script = `window.x=${JSON.stringify('y'.repeat(200_000))};`;
  const server = http.createServer((req, res) => {
    if (req.url === '/big.js') return void res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><html lang="en"><head><meta name="viewport" content="width=device-width"><title>Shoes</title><script src="/big.js"></script></head><body><h1>Trail runner</h1><p>Light and fast.</p></body></html>');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => server.close(r)));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

test('two runs, a failing budget exits 1, runs stored by revision and compared', { skip }, async (t) => {
  const url = await site(t);
  const s = await start();
  const rc = path.join(tmpDir(), 'lighthouserc.json');
  fs.writeFileSync(rc, JSON.stringify({ ci: { assert: { assertions: { 'categories:performance': ['warn', { minScore: 0.5 }], 'resource-summary:script:size': ['error', { maxNumericValue: 100_000 }], 'first-contentful-paint': ['error', { maxNumericValue: 30_000 }] } } } }));
  const first = await cli(['lighthouse', url, '--runs', '2', '--preset', 'desktop', '--assert', rc, '--server', s.url, '--revision', 'aaa111', '--json']);
  assert.equal(first.code, 1, first.err);
  const r = JSON.parse(first.out);
  assert.equal(r.summary[0].runs, 2);
  assert.ok(r.summary[0].median.metrics.largestContentfulPaint > 0);
  assert.ok(r.summary[0].median.categories.performance > 0);
  assert.ok(r.summary[0].median.resources.script.size > 200_000, 'the 200 KB script');
  const by = Object.fromEntries(r.assertions.map((a: { assertion: string }) => [a.assertion, a]));
  assert.equal(by['resource-summary:script:size'].passed, false);
  assert.equal(by['first-contentful-paint'].passed, true);
  assert.equal(r.passed, false);
  assert.match(first.err, /run 2 of 2/, 'progress on stderr');

  // the budget raised: it passes; the second revision is stored beside the first
  fs.writeFileSync(rc, JSON.stringify({ ci: { assert: { assertions: { 'resource-summary:script:size': ['error', { maxNumericValue: 400_000 }] } } } }));
  const second = await cli(['lighthouse', url, '--runs', '2', '--preset', 'desktop', '--assert', rc, '--server', s.url, '--revision', 'bbb222']);
  assert.equal(second.code, 0, second.err);
  assert.match(second.out, /representative of 2 desktop runs/);
  assert.match(second.out, /resource-summary:script:size\s+error\s+max 400000\s+\d+\s+pass/);
  const stored = await json(fetch(`${s.url}/api/lighthouse/runs?url=${encodeURIComponent(url)}`));
  assert.deepEqual(stored.runs.map((x: { revision: string }) => x.revision), ['aaa111', 'aaa111', 'bbb222', 'bbb222']);
  assert.equal(stored.runs[0].page, '/', 'the page template, as real users\' beacons of it are kept');
  const cmp = await json(fetch(`${s.url}/api/lighthouse/compare?url=${encodeURIComponent(url)}&base=aaa111&head=bbb222`));
  const lcp = cmp.metrics.find((m: { metric: string }) => m.metric === 'largestContentfulPaint');
  assert.equal(lcp.base.runs, 2);
  assert.equal(lcp.significant, false, 'two runs each cannot show a significant difference');
  assert.match(cmp.derivedFrom, /Mann–Whitney/);
});

test('clear errors: no URL, a bad URL, no Chromium, a page that does not load', async () => {
  assert.equal((await cli(['lighthouse'])).code, 2);
  assert.match((await cli(['lighthouse', 'ftp://x'])).err, /not an http\(s\) URL/);
  const none = await cli(['lighthouse', 'http://127.0.0.1:9/', '--chrome-path', '/nowhere/chromium']);
  assert.equal(none.code, 2);
  assert.match(none.err, /Chromium not found at \/nowhere\/chromium: install it \(Debian\/Ubuntu: apt-get install -y chromium\)/);
  if (skip) return;
  const down = await cli(['lighthouse', 'http://127.0.0.1:9/', '--runs', '1', '--preset', 'desktop']);
  assert.equal(down.code, 1);
  assert.match(down.err, /Lighthouse could not load http:\/\/127\.0\.0\.1:9\/: \w+/);
});

test('lab.lighthouse: the server measures the configured pages itself and stores the runs', { skip }, async (t) => {
  const url = await site(t);
  const { testConfig } = await import('../helpers.js');
  const s = await start({}, testConfig({ lab: { lighthouse: { urls: [url], runs: 1, preset: 'desktop', everyMinutes: 60 } } }));
  assert.equal(s.lab.active, true);
  await s.lab.runNow();
  assert.ok(s.lab.last?.id, JSON.stringify(s.lab.last));
  const stored = await json(fetch(`${s.url}/api/lighthouse/runs?url=${encodeURIComponent(url)}`));
  assert.equal(stored.runs.length, 1);
  assert.equal(stored.runs[0].release, 'scheduled');
  // without Chromium it says so and stops asking
  const none = await start({}, testConfig({ lab: { lighthouse: { urls: [url], runs: 1 } } }));
  const before = process.env.CHROME_PATH;
  process.env.CHROME_PATH = '/nowhere/chromium';
  try {
    await none.lab.runNow();
  } finally {
    if (before === undefined) delete process.env.CHROME_PATH;
    else process.env.CHROME_PATH = before;
  }
  assert.match(none.lab.last?.error ?? '', /Chromium not found at \/nowhere\/chromium/);
  assert.equal(none.lab.active, false);
});
