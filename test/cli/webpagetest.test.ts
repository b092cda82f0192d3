// solemate-perf webpagetest against a local fake WebPageTest server that checks the documented
// parameters (runtest.php: url, f=json, k, location, runs, fvonly=1; testStatus.php: f=json, test;
// jsonResult.php: test) and answers in WebPageTest's documented shapes, including its errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { cli as runCli } from './run.js';
import { memoryServers } from '../server/memory-server.js';
import { json } from '../helpers.js';

const start = memoryServers();
const KEY = 'wpt-secret-key';

/** the CLI, polling the fake every 10 ms */
const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => runCli(args, { WPT_POLL_MS: '10', ...env });

/** mode: ok | fail (the test fails while running) | slow (never completes) */
async function fakeWpt(t: { after: (fn: () => unknown) => void }, mode: 'ok' | 'fail' | 'slow') {
  const seen: { path: string; params: Record<string, string> }[] = [];
  let polls = 0;
  const server = http.createServer((req, res) => {
    const u = new URL(req.url!, 'http://x');
    const params = Object.fromEntries(u.searchParams);
    seen.push({ path: u.pathname, params });
    const answer = (body: object) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (u.pathname === '/runtest.php') {
      if (params.k !== KEY) return answer({ statusCode: 400, statusText: 'Invalid API Key' });
      if (params.f !== 'json' || params.fvonly !== '1' || !params.url) return answer({ statusCode: 400, statusText: 'bad request' });
      return answer({ statusCode: 200, statusText: 'Ok', data: { testId: '241207_AB_1', jsonUrl: 'x', userUrl: 'https://wpt.example/result/241207_AB_1/' } });
    }
    if (u.pathname === '/testStatus.php') {
      polls++;
      if (params.f !== 'json' || params.test !== '241207_AB_1') return answer({ statusCode: 400, statusText: 'Test not found' });
      if (mode === 'fail' && polls >= 2) return answer({ statusCode: 402, statusText: 'Test failed: timeout' });
      if (mode === 'slow' || polls < 3) return answer({ statusCode: 101, statusText: 'Waiting behind 2 other tests' });
      return answer({ statusCode: 200, statusText: 'Test Complete' });
    }
    if (u.pathname === '/jsonResult.php') {
      return answer({ statusCode: 200, statusText: 'Test Complete', data: { id: params.test, location: 'Dulles:Chrome', successfulFVRuns: 3, summary: 'https://wpt.example/result/241207_AB_1/', median: { firstView: { TTFB: 312, render: 900, SpeedIndex: 1234, 'chromeUserTiming.LargestContentfulPaint': 2150, fullyLoaded: 3900, bytesIn: 842_113, requestsFull: 37 } } } });
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => server.close(r)));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

test('a test started, polled and read in the documented shapes; the median first view stored on the server', async (t) => {
  const wpt = await fakeWpt(t, 'ok');
  const s = await start();
  const r = await cli(['webpagetest', 'https://shop.example/products/9', '--wpt', wpt.url, '--location', 'Dulles:Chrome', '--runs', '3', '--server', s.url, '--json'], { WPT_API_KEY: KEY });
  assert.equal(r.code, 0, r.err);
  const out = JSON.parse(r.out);
  assert.deepEqual(out.firstView, { ttfb: 312, startRender: 900, speedIndex: 1234, largestContentfulPaint: 2150, fullyLoaded: 3900, bytes: 842_113, requests: 37 });
  assert.equal(out.successfulRuns, 3);
  const start1 = wpt.seen.find((x) => x.path === '/runtest.php')!.params;
  assert.deepEqual(start1, { url: 'https://shop.example/products/9', f: 'json', k: KEY, location: 'Dulles:Chrome', runs: '3', fvonly: '1' });
  assert.equal(wpt.seen.filter((x) => x.path === '/testStatus.php').length, 3, 'polled until 200');
  assert.match(r.err, /Waiting behind 2 other tests/);
  const stored = await json(fetch(`${s.url}/api/webpagetest/runs`));
  assert.equal(stored.runs[0].firstView.largestContentfulPaint, 2150);
  assert.equal(stored.runs[0].page, '/products/:id');
});

test('a bad key, a failed test and a test that never completes are clear errors', async (t) => {
  const ok = await fakeWpt(t, 'ok');
  const badKey = await cli(['webpagetest', 'https://shop.example/', '--wpt', ok.url], { WPT_API_KEY: 'wrong' });
  assert.equal(badKey.code, 1);
  assert.match(badKey.err, /WebPageTest did not start the test: 400 Invalid API Key \(the key comes from WPT_API_KEY\)/);
  const failing = await fakeWpt(t, 'fail');
  const failed = await cli(['webpagetest', 'https://shop.example/', '--wpt', failing.url], { WPT_API_KEY: KEY });
  assert.equal(failed.code, 1);
  assert.match(failed.err, /WebPageTest test 241207_AB_1 failed: 402 Test failed: timeout/);
  const slow = await fakeWpt(t, 'slow');
  const waited = await cli(['webpagetest', 'https://shop.example/', '--wpt', slow.url, '--timeout', '0.2'], { WPT_API_KEY: KEY });
  assert.equal(waited.code, 1);
  assert.match(waited.err, /still not complete after 0 s \(Waiting behind 2 other tests\); its result will be at http:\/\/127\.0\.0\.1:\d+\/jsonResult\.php\?test=241207_AB_1/);
  assert.match((await cli(['webpagetest', 'not-a-url'])).err, /name one http\(s\) URL/);
});
