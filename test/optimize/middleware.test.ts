// The optimization middleware in an Express app: it does nothing without settings, and each setting
// does what it says — route caches (hit, TTL, emptied by writes, never Set-Cookie or errors; memory
// and a real Redis), compression (brotli/gzip, threshold, types), cache headers, pool sizes —
// image variants (resized AVIF/WebP by Accept, the original on ?solemate-original, 304 on the
// variant's ETag) and page rewrites (lazy images, the LCP image first, deferred scripts) —
// and it follows the settings as they change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import zlib from 'node:zlib';
import type { AddressInfo } from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import sharp from 'sharp';
import { Redis } from 'ioredis';
import { optimizationMiddleware, templateMatcher } from '../../src/optimize/middleware.js';
import type { OptimizationSettings, SettingEntry } from '../../src/model/settings.js';
import { redisOrSkip } from '../helpers.js';

const BIG = JSON.stringify({ items: Array.from({ length: 200 }, (_, i) => ({ id: i, name: `shoe ${i}` })) });
const LARGE = JSON.stringify(Array.from({ length: 5000 }, (_, i) => ({ id: i, name: `item ${i}`, price: (i * 7919) % 10_000 }))); // ~200 KB

/** a 1200 px PNG with grain, as a product photo compresses */
const PHOTO = await (async () => {
  const size = 1200;
  const px = new Uint8Array(size * size * 3);
  let seed = 7;
  for (let i = 0; i < px.length; i++) {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    px[i] = (((i / 3) % size) * 200) / size + ((seed >>> 26) & 31);
  }
  return sharp(Buffer.from(px.buffer), { raw: { width: size, height: size, channels: 3 } }).png().toBuffer();
})();
const PAGE = `<!doctype html><html><head><script src="/assets/app.js"></script></head><body>${Array.from({ length: 6 }, (_, i) => `<img src="/images/${i}.png" alt="">`).join('')}</body></html>`;
const imageDir = fs.mkdtempSync(path.join(os.tmpdir(), 'solemate-mw-images-'));
process.on('exit', () => fs.rmSync(imageDir, { recursive: true, force: true }));

async function app(entries: SettingEntry[], extra: { redis?: Redis; pools?: Record<string, { options: { max?: number } }> } = {}) {
  let settings: OptimizationSettings = { version: entries.length ? 1 : 0, entries };
  const mw = optimizationMiddleware({ source: { get: async () => settings, intervalMs: 60_000 }, images: { dir: imageDir }, ...extra });
  await mw.refresh();
  const calls: Record<string, number> = {};
  const count = (k: string) => (calls[k] = (calls[k] ?? 0) + 1);
  const a = express();
  a.use(mw);
  a.get('/api/products/:id', (req, res) => (count(`p${req.params.id}`), res.json({ id: req.params.id, at: calls[`p${req.params.id}`] })));
  a.get('/api/facets', (_req, res) => (count('facets'), res.type('json').send(BIG)));
  a.get('/api/export', (_req, res) => res.type('json').send(LARGE));
  a.get('/api/cookie', (_req, res) => (count('cookie'), res.cookie('sid', 'x').json({ ok: true })));
  a.get('/api/missing', (_req, res) => (count('missing'), res.status(404).json({ error: 'no' })));
  a.get('/stream', (_req, res) => {
    res.type('text');
    res.write('a'.repeat(5000));
    res.end('b');
  });
  a.get('/assets/app.js', (_req, res) => res.type('application/javascript').send('x'.repeat(3000)));
  a.get('/assets/own.js', (_req, res) => res.set('Cache-Control', 'no-store').type('application/javascript').send('y'));
  a.get('/image.png', (_req, res) => res.type('png').send(Buffer.alloc(5000, 7)));
  a.get('/images/:id.png', (req, res) => (count(`img${req.params.id}`), res.type('png').send(PHOTO)));
  a.get('/products/:id', (_req, res) => res.type('html').send(PAGE));
  a.post('/api/products/:id', (_req, res) => res.status(204).end());
  a.post('/api/products/:id/hang', () => {}); // a write whose answer never comes (the client gives up)
  a.post('/api/checkout', (req, res) => (req.query.stock === 'none' ? res.status(409).json({ error: 'out of stock' }) : res.status(201).json({ ok: true })));
  const server = http.createServer(a);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    calls,
    mw,
    set: async (next: SettingEntry[]) => {
      settings = { version: settings.version + 1, entries: next };
      await mw.refresh();
    },
    close: async () => {
      mw.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** raw GET (no automatic decompression) */
function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    http.get(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    }).on('error', reject);
  });
}
const post = (url: string) => fetch(url, { method: 'POST' }).then((r) => r.arrayBuffer());

const cache = (route: string, more: Partial<Extract<SettingEntry, { type: 'route-cache' }>['params']> = {}): SettingEntry => ({ id: `c${route}`, type: 'route-cache', enabled: true, params: { method: 'GET', route, ttlMs: 60_000, backend: 'memory', maxEntries: 100, invalidatedBy: [], ...more } });

test('template matcher: parameters match one segment', () => {
  assert.ok(templateMatcher('/api/products/:id').test('/api/products/12'));
  assert.ok(!templateMatcher('/api/products/:id').test('/api/products/12/reviews'));
  assert.ok(!templateMatcher('/api/products/:id').test('/api/products'));
  assert.ok(templateMatcher('/api/products', true).test('/api/products/12'));
  assert.ok(!templateMatcher('/api/products', true).test('/api/productsX'));
});

test('without settings the middleware only calls next()', async (t) => {
  const s = await app([]);
  t.after(() => s.close());
  const a = await get(`${s.url}/api/facets`, { 'accept-encoding': 'br' });
  assert.equal(a.headers['x-solemate-settings'], undefined);
  assert.equal(a.headers['content-encoding'], undefined);
  await get(`${s.url}/api/facets`);
  assert.equal(s.calls.facets, 2);
});

test('route cache: a hit skips the handler; query strings, TTL, writes, cookies and errors', async (t) => {
  const s = await app([cache('/api/products/:id', { invalidatedBy: ['POST /api/checkout'] }), cache('/api/cookie'), cache('/api/missing')]);
  t.after(() => s.close());
  const a = await get(`${s.url}/api/products/1`);
  const b = await get(`${s.url}/api/products/1`);
  assert.equal(a.headers['x-solemate-cache'], 'miss');
  assert.equal(b.headers['x-solemate-cache'], 'hit');
  assert.deepEqual(JSON.parse(b.body.toString()), { id: '1', at: 1 }, 'the cached answer is the first one');
  assert.equal(b.headers['content-type'], a.headers['content-type']);
  assert.equal(s.calls.p1, 1);
  await get(`${s.url}/api/products/1?x=2`);
  assert.equal(s.calls.p1, 2, 'another query string is another entry');
  await post(`${s.url}/api/products/1`);
  await get(`${s.url}/api/products/1`);
  assert.equal(s.calls.p1, 3, 'a write to the resource empties the cache');
  await post(`${s.url}/api/checkout?stock=none`);
  await get(`${s.url}/api/products/1`);
  assert.equal(s.calls.p1, 3, 'a refused write (409) changed nothing: the cache stays');
  await post(`${s.url}/api/checkout`);
  await get(`${s.url}/api/products/1`);
  assert.equal(s.calls.p1, 4, 'a configured writer empties it too');
  await get(`${s.url}/api/products/1`);
  assert.equal(s.calls.p1, 4);
  await fetch(`${s.url}/api/products/1/hang`, { method: 'POST', signal: AbortSignal.timeout(100) }).catch(() => {});
  await new Promise((r) => setTimeout(r, 100)); // the server sees the connection close
  await get(`${s.url}/api/products/1`);
  assert.equal(s.calls.p1, 5, 'a write that never answered may have happened: it empties the cache when its connection closes');
  await get(`${s.url}/api/products/9`, { cookie: 'sid=a' });
  await get(`${s.url}/api/products/9`, { cookie: 'sid=b' });
  await get(`${s.url}/api/products/9`, { authorization: 'Bearer x' });
  assert.equal(s.calls.p9, 3, 'requests with credentials are never answered from the cache');
  await get(`${s.url}/api/cookie`);
  await get(`${s.url}/api/cookie`);
  assert.equal(s.calls.cookie, 2, 'responses that set cookies are never cached');
  await get(`${s.url}/api/missing`);
  await get(`${s.url}/api/missing`);
  assert.equal(s.calls.missing, 2, 'only 200s are cached');
  // turning the entry off stops the caching at once
  await s.set([{ ...cache('/api/products/:id'), enabled: false }]);
  await get(`${s.url}/api/products/1`);
  await get(`${s.url}/api/products/1`);
  assert.equal(s.calls.p1, 7, 'both reach the handler');
});

test('route cache: entries expire after the TTL and the LRU keeps at most maxEntries', async (t) => {
  const s = await app([cache('/api/products/:id', { ttlMs: 150, maxEntries: 2 })]);
  t.after(() => s.close());
  await get(`${s.url}/api/products/1`);
  await get(`${s.url}/api/products/1`);
  assert.equal(s.calls.p1, 1);
  await new Promise((r) => setTimeout(r, 200));
  await get(`${s.url}/api/products/1`);
  assert.equal(s.calls.p1, 2, 'expired');
  await get(`${s.url}/api/products/2`);
  await get(`${s.url}/api/products/3`);
  await get(`${s.url}/api/products/1`);
  assert.equal(s.calls.p1, 3, 'the least recently used entry was evicted');
});

test('route cache: responses cached together expire spread over the last fifth of the TTL, none after it', async (t) => {
  const s = await app([cache('/api/products/:id', { ttlMs: 2000 })]);
  t.after(() => s.close());
  const ids = Array.from({ length: 20 }, (_, i) => i + 1);
  const filled = Date.now();
  await Promise.all(ids.map((id) => get(`${s.url}/api/products/${id}`)));
  const fillMs = Date.now() - filled;
  const wait = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, filled + ms - Date.now())));
  /** ids answered from the cache now (a miss fills the entry again) */
  const hits = async () => {
    const before = { ...s.calls };
    await Promise.all(ids.map((id) => get(`${s.url}/api/products/${id}`)));
    return ids.filter((id) => s.calls[`p${id}`] === before[`p${id}`]);
  };
  await wait(1600 - fillMs - 200);
  assert.deepEqual(await hits(), ids, 'every entry lives at least 80% of the TTL');
  await wait(1800);
  const kept = await hits();
  // each lives 1600–2000 ms: at 1800 ms about half are gone (all on one side: a chance of 2 in a million)
  assert.ok(kept.length > 0 && kept.length < ids.length, `${kept.length} of ${ids.length} still cached at 90% of the TTL: they expire at different times`);
  await wait(2000 + fillMs + 100);
  const after = new Set(await hits());
  assert.deepEqual(kept.filter((id) => after.has(id)), [], 'no entry outlives the TTL');
});

test('route cache in Redis: shared by two app instances, emptied by a write to either', async (t) => {
  const r = await redisOrSkip();
  if (r.skip) return t.skip(r.skip);
  const redis = new Redis(r.url!);
  const entry = { ...cache('/api/products/:id', { backend: 'redis' }), id: `redis-test-${process.pid}-${Date.now()}` } as SettingEntry;
  const one = await app([entry], { redis });
  const two = await app([entry], { redis });
  t.after(async () => {
    await one.close();
    await two.close();
    await redis.del(`solemate:rc:${entry.id}`);
    redis.disconnect();
  });
  await get(`${one.url}/api/products/5`);
  await new Promise((res) => setTimeout(res, 50)); // the store is written after the response
  const hit = await get(`${two.url}/api/products/5`);
  assert.equal(hit.headers['x-solemate-cache'], 'hit');
  assert.equal(two.calls.p5, undefined, 'served from what the other instance stored');
  assert.ok((await redis.pttl(`solemate:rc:${entry.id}`)) > 0, 'the hash expires');
  await post(`${two.url}/api/products/5`);
  await new Promise((res) => setTimeout(res, 50));
  assert.equal(await redis.exists(`solemate:rc:${entry.id}`), 0);
  await get(`${one.url}/api/products/5`);
  assert.equal(one.calls.p5, 2);
});

test('compression: brotli or gzip as accepted, above the threshold, text only; streams pass through', async (t) => {
  const s = await app([{ id: 'z', type: 'compression', enabled: true, params: { threshold: 1024, brotli: true } }]);
  t.after(() => s.close());
  const br = await get(`${s.url}/api/facets`, { 'accept-encoding': 'gzip, deflate, br' });
  assert.equal(br.headers['content-encoding'], 'br');
  assert.match(String(br.headers.vary), /Accept-Encoding/);
  assert.equal(Number(br.headers['content-length']), br.body.length);
  assert.equal(zlib.brotliDecompressSync(br.body).toString(), BIG);
  assert.ok(br.body.length < BIG.length / 3, `${br.body.length} of ${BIG.length} bytes`);
  const gz = await get(`${s.url}/api/facets`, { 'accept-encoding': 'gzip' });
  assert.equal(gz.headers['content-encoding'], 'gzip');
  assert.equal(zlib.gunzipSync(gz.body).toString(), BIG);
  const plain = await get(`${s.url}/api/facets`);
  assert.equal(plain.headers['content-encoding'], undefined, 'a client that asks for nothing gets nothing');
  assert.equal(plain.body.toString(), BIG);
  const small = await get(`${s.url}/api/products/1`, { 'accept-encoding': 'br' });
  assert.equal(small.headers['content-encoding'], undefined, 'below the threshold');
  const png = await get(`${s.url}/image.png`, { 'accept-encoding': 'br' });
  assert.equal(png.headers['content-encoding'], undefined, 'images are compressed already');
  const stream = await get(`${s.url}/stream`, { 'accept-encoding': 'br' });
  assert.equal(stream.headers['content-encoding'], undefined);
  assert.equal(stream.body.length, 5001);
  assert.equal(s.mw.stats.compressed, 2);
  // over 64 KiB a body is compressed in the thread pool instead of on the event loop: the same bytes come back
  for (const [accept, decode] of [['br', zlib.brotliDecompressSync], ['gzip', zlib.gunzipSync]] as const) {
    const large = await get(`${s.url}/api/export`, { 'accept-encoding': accept });
    assert.equal(large.headers['content-encoding'], accept);
    assert.equal(Number(large.headers['content-length']), large.body.length);
    assert.equal(decode(large.body).toString(), LARGE);
  }
});

test('a cached response follows the compression setting as it changes', async (t) => {
  const zip: SettingEntry = { id: 'z', type: 'compression', enabled: true, params: { threshold: 1024, brotli: true } };
  const s = await app([cache('/api/facets')]);
  t.after(() => s.close());
  assert.equal((await get(`${s.url}/api/facets`, { 'accept-encoding': 'br' })).headers['content-encoding'], undefined);
  await s.set([cache('/api/facets'), zip]);
  const br = await get(`${s.url}/api/facets`, { 'accept-encoding': 'br' });
  assert.equal(br.headers['content-encoding'], 'br', 'not the uncompressed copy cached before');
  const hit = await get(`${s.url}/api/facets`, { 'accept-encoding': 'br' });
  assert.equal(hit.headers['x-solemate-cache'], 'hit');
  assert.equal(zlib.brotliDecompressSync(hit.body).toString(), BIG);
  assert.equal(s.calls.facets, 2);
});

test('cache headers on static paths (the app’s own header wins); pool size follows the settings', async (t) => {
  const pool = { options: { max: 10 } as { max?: number } };
  const s = await app([{ id: 'h', type: 'cache-headers', enabled: true, params: { paths: ['/assets/'], maxAgeSeconds: 31_536_000, immutable: true } }, { id: 'p', type: 'pool-size', enabled: true, params: { pool: 'default', max: 25 } }], { pools: { default: pool } });
  t.after(() => s.close());
  assert.equal((await get(`${s.url}/assets/app.js`)).headers['cache-control'], 'public, max-age=31536000, immutable');
  assert.equal((await get(`${s.url}/assets/own.js`)).headers['cache-control'], 'no-store');
  assert.equal((await get(`${s.url}/api/facets`)).headers['cache-control'], undefined);
  assert.equal(pool.options.max, 25);
  await s.set([]);
  assert.equal(pool.options.max, 10, 'removing the setting restores the size the app chose');
  assert.equal((await get(`${s.url}/assets/app.js`)).headers['cache-control'], undefined);
});

test('image variants: resized AVIF or WebP by Accept, never wider than asked, the original on ?solemate-original, 304 on the variant’s ETag', async (t) => {
  const s = await app([{ id: 'iv', type: 'image-variants', enabled: true, params: { route: '/images/:id.png', width: 300, formats: ['avif', 'webp'] } }]);
  t.after(() => s.close());
  const avif = await get(`${s.url}/images/1.png`, { accept: 'image/avif,image/webp,image/*,*/*;q=0.8' });
  assert.equal(avif.status, 200);
  assert.equal(avif.headers['content-type'], 'image/avif');
  assert.equal(avif.headers.vary, 'Accept', 'caches on the way key on Accept');
  assert.equal(Number(avif.headers['content-length']), avif.body.length);
  const meta = await sharp(avif.body).metadata();
  assert.equal(meta.width, 300);
  assert.ok(avif.body.length < PHOTO.length / 10, `${avif.body.length} of ${PHOTO.length} bytes`);
  const webp = await get(`${s.url}/images/2.png`, { accept: 'image/webp,*/*' });
  assert.equal(webp.headers['content-type'], 'image/webp');
  assert.equal((await sharp(webp.body).metadata()).width, 300);
  // a browser that takes neither gets its PNG, resized
  const png = await get(`${s.url}/images/3.png`, { accept: 'image/png' });
  assert.equal(png.headers['content-type'], 'image/png');
  assert.equal((await sharp(png.body).metadata()).width, 300);
  const original = await get(`${s.url}/images/1.png?solemate-original`, { accept: 'image/avif' });
  assert.deepEqual(original.body, PHOTO, 'the original stays reachable');
  const again = await get(`${s.url}/images/1.png`, { accept: 'image/avif', 'if-none-match': String(avif.headers.etag) });
  assert.equal(again.status, 304);
  assert.equal(again.body.length, 0);
  assert.ok(s.mw.stats.imageVariants >= 3);
  // switched off: the originals again
  await s.set([]);
  assert.deepEqual((await get(`${s.url}/images/1.png`, { accept: 'image/avif' })).body, PHOTO);
});

test('page rewrite: images from the fold on lazy, the LCP image first, the render-blocking script deferred; other pages untouched', async (t) => {
  const s = await app([
    { id: 'lazy', type: 'page-rewrite', enabled: true, params: { route: '/products/:id', lazyFrom: 2, priorityImage: 0 } },
    { id: 'defer', type: 'page-rewrite', enabled: true, params: { route: '/products/:id', deferScripts: ['/assets/app.js'] } },
  ]);
  t.after(() => s.close());
  const page = (await get(`${s.url}/products/7`)).body.toString();
  const imgs = page.match(/<img[^>]*>/g)!;
  assert.equal(imgs.length, 6);
  assert.match(imgs[0], /fetchpriority="high"/);
  assert.doesNotMatch(imgs[0], /loading=/);
  assert.doesNotMatch(imgs[1], /loading=/);
  for (const img of imgs.slice(2)) assert.match(img, /loading="lazy" decoding="async"/);
  assert.match(page, /<script src="\/assets\/app.js" defer><\/script>/, 'both rewrites of the route apply');
  assert.equal(s.mw.stats.pagesRewritten, 1);
  // the compression that follows sees the edited page
  await s.set([...s.mw.settings.entries, { id: 'z', type: 'compression', enabled: true, params: { threshold: 10, brotli: true } }]);
  const br = await get(`${s.url}/products/7`, { 'accept-encoding': 'br' });
  assert.match(zlib.brotliDecompressSync(br.body).toString(), /loading="lazy"/);
  await s.set([]);
  assert.equal((await get(`${s.url}/products/7`)).body.toString(), PAGE);
});
