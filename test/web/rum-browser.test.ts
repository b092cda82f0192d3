/// <reference lib="dom" />
// Real-user monitoring in a real browser (issue 26): a page that loads the server's /rum.js is opened
// in headless Chromium, clicked (INP), shifted (CLS) and left (pagehide): its beacon reaches
// POST /v1/rum with all five vitals, their attribution and the navigation timing, and /api/rum
// answers them for the page's template.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import { chromium } from 'playwright-core';
import { memoryServers } from '../server/memory-server.js';
import { json } from '../helpers.js';

const CHROME = process.env.CHROME_PATH ?? '/usr/bin/chromium';
const skip = fs.existsSync(CHROME) ? false : `Chromium not found at ${CHROME}: apt-get install -y chromium, or set CHROME_PATH`;
if (skip) console.warn(`# skipping the browser tests: ${skip}`);
const start = memoryServers();

/** A 300×200 PNG of noise: Chromium leaves low-entropy images (a flat colour) out of LCP. */
function noisePng(): Buffer {
  const crc = (b: Buffer) => {
    let c = ~0;
    for (const x of b) {
      c ^= x;
      for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
    }
    return ~c >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type), data]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(300, 0);
  header.writeUInt32BE(200, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  let seed = 7;
  const rows = Buffer.alloc(200 * (1 + 900));
  for (let i = 0; i < rows.length; i++) rows[i] = i % 901 === 0 ? 0 : (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', header), chunk('IDAT', zlib.deflateSync(rows)), chunk('IEND', Buffer.alloc(0))]);
}
const HERO = noisePng();
const page = (perf: string) => `<!doctype html><html><head><title>Trail runner</title>
<script src="${perf}/rum.js" data-service="shop-web" defer></script></head>
<body><h1>Trail runner 2049</h1><img id="hero" src="/hero.png" width="300" height="200" alt="shoe">
<p><button id="add">Add to cart</button></p>
<script>
  // a slow handler: an interaction of 150 ms or more (INP)
  document.getElementById('add').addEventListener('click', () => { const t = performance.now(); while (performance.now() - t < 150); document.getElementById('add').textContent = 'Added'; });
  // a banner inserted late, without input: everything below shifts (CLS)
  addEventListener('load', () => setTimeout(() => { const d = document.createElement('div'); d.id = 'banner'; d.style.height = '120px'; d.textContent = 'Free shipping'; document.body.prepend(d); }, 200));
</script></body></html>`;

test('a page view in Chromium sends LCP, INP, CLS, FCP and TTFB with attribution and its load time', { skip }, async (t) => {
  const s = await start();
  const site = http.createServer((req, res) => {
    if (req.url === '/hero.png') return void res.writeHead(200, { 'content-type': 'image/png' }).end(HERO);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page(s.url));
  });
  await new Promise<void>((r) => site.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => site.close(r)));
  const browser = await chromium.launch({ executablePath: CHROME, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] });
  t.after(() => browser.close());
  const tab = await browser.newPage({ viewport: { width: 390, height: 844 } });
  await tab.goto(`http://127.0.0.1:${(site.address() as AddressInfo).port}/products/7731?utm_source=mail`, { waitUntil: 'load' });
  await tab.waitForSelector('#banner');
  await tab.click('#add');
  await tab.waitForFunction(() => document.getElementById('add')?.textContent === 'Added');
  // the interaction's event-timing entry is queued after the next paint: let it arrive
  await tab.evaluate(() => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 300))));
  // leaving the page hides it: web-vitals reports, and the snippet sends its beacon
  await tab.goto('about:blank');
  const deadline = Date.now() + 10_000;
  while (s.rum.beacons.accepted === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.ok(s.rum.beacons.accepted >= 1, `a beacon arrived: ${JSON.stringify(s.rum.beacons)}`);
  await s.rum.flush();

  const r = await json(fetch(`${s.url}/api/rum?from=-1h`));
  assert.equal(r.pages.length, 1);
  const p = r.pages[0];
  assert.deepEqual([p.service, p.page, p.device], ['shop-web', '/products/:id', 'mobile']);
  for (const v of ['LCP', 'INP', 'CLS', 'FCP', 'TTFB']) assert.equal(p.vitals[v]?.count, 1, `${v}: ${JSON.stringify(p.vitals)}`);
  assert.ok(p.vitals.INP.p75 >= 150, `INP ${p.vitals.INP.p75} covers the 150-ms handler`);
  assert.ok(p.vitals.CLS.p75 > 0, `CLS ${p.vitals.CLS.p75} from the banner`);
  assert.ok(p.vitals.FCP.p75 <= p.vitals.LCP.p75 + 1);
  assert.ok(p.loadTime.count === 1 && p.loadTime.p75 > 0 && p.transferBytes.p75 > 0);
  const targets = Object.fromEntries(r.attribution.map((a: { vital: string; target: string }) => [a.vital, a.target]));
  assert.match(targets.LCP, /hero/, 'the LCP element');
  assert.match(r.attribution.find((a: { vital: string }) => a.vital === 'LCP').resource, /\/hero\.png$/, 'and its resource');
  assert.match(targets.INP, /add/, 'the slow interaction');
  assert.ok(targets.CLS, 'the largest shift source');
});
