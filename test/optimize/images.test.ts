// The image-variant engine (src/optimize/images.ts) with real sharp on real files: Accept
// negotiation, a grainy 2400 px PNG resized to AVIF and WebP, no upscaling, the disk cache across a
// restart, the least-recently-used size cap, one sharp job for concurrent requests, unreadable bytes,
// and what get() says when sharp is not installed.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import sharp from 'sharp';
import { ImageVariants, imageInfo, preferredFormat } from '../../src/optimize/images.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'solemate-images-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let dirs = 0;
/** a path that does not exist yet: ImageVariants creates it */
const freshDir = () => path.join(root, `cache-${++dirs}`);
const BIG = 100 * 1024 * 1024;

/**
 * size×size PNG of gradients with a pseudo-random grain in 8 px cells plus a per-pixel one: the cells
 * survive a 4× downscale, so no encoder shrinks the variant to nothing.
 */
async function grainyPng(size: number): Promise<Buffer> {
  const px = new Uint8ClampedArray(size * size * 3);
  const cells = Math.ceil(size / 8);
  let r = 1;
  const next = () => (r = (Math.imul(r, 1664525) + 1013904223) >>> 0) >>> 26; // 0–63
  const cell = Array.from({ length: cells * cells }, () => next() - 32);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const grain = cell[(y >> 3) * cells + (x >> 3)] + (next() >> 2) - 8;
      const i = (y * size + x) * 3;
      px[i] = (x * 255) / size + grain;
      px[i + 1] = (y * 255) / size + grain;
      px[i + 2] = ((x + y) * 127) / size - grain;
    }
  }
  return sharp(Buffer.from(px.buffer), { raw: { width: size, height: size, channels: 3 } }).png().toBuffer();
}

const big = await grainyPng(2400);
const small = await grainyPng(600);
const files = (dir: string) => fs.readdirSync(dir).sort();
const bytesOnDisk = (dir: string) => files(dir).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);

test('preferredFormat: only what Accept lists explicitly with q > 0, by q, then in the order given', () => {
  const chrome = 'text/html,image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8';
  assert.equal(preferredFormat(chrome, ['avif', 'webp']), 'avif');
  assert.equal(preferredFormat(chrome, ['webp', 'avif']), 'webp', 'equal q: the order given decides');
  assert.equal(preferredFormat(chrome, ['webp']), 'webp');
  assert.equal(preferredFormat('image/webp,*/*', ['avif', 'webp']), 'webp');
  assert.equal(preferredFormat('image/avif;q=0.5, image/webp;q=0.9', ['avif', 'webp']), 'webp', 'the higher q wins');
  assert.equal(preferredFormat('Image/AVIF ; Q=0.7, image/webp;q=0.7', ['avif', 'webp']), 'avif', 'case and spaces do not matter');
  assert.equal(preferredFormat('image/avif;q=0, image/webp', ['avif', 'webp']), 'webp', 'q=0 means not acceptable');
  assert.equal(preferredFormat('image/avif;q=0', ['avif']), undefined);
  assert.equal(preferredFormat('image/avif;q=oops', ['avif']), undefined, 'a malformed q is not acceptance');
  assert.equal(preferredFormat('image/*,*/*;q=0.8', ['avif', 'webp']), undefined, 'wildcards never imply a modern format');
  assert.equal(preferredFormat('*/*', ['avif', 'webp']), undefined);
  assert.equal(preferredFormat('image/avif', []), undefined);
  assert.equal(preferredFormat(undefined, ['avif', 'webp']), undefined);
  assert.equal(preferredFormat('', ['avif', 'webp']), undefined);
});

test('a 2400 px PNG becomes 600 px AVIF and WebP, much smaller', async (t) => {
  assert.equal(await ImageVariants.available(), true);
  assert.deepEqual(await imageInfo(big), { width: 2400, height: 2400, format: 'png' });
  const iv = new ImageVariants({ dir: freshDir(), maxBytes: BIG });
  let start = performance.now();
  const avif = await iv.get(big, { width: 600, format: 'avif' });
  const avifMs = performance.now() - start;
  start = performance.now();
  const webp = await iv.get(big, { width: 600, format: 'webp' });
  const webpMs = performance.now() - start;
  t.diagnostic(`original PNG ${big.length} B; AVIF ${avif?.body.length} B in ${avifMs.toFixed(0)} ms; WebP ${webp?.body.length} B in ${webpMs.toFixed(0)} ms`);
  assert.ok(avif && webp);
  assert.deepEqual([avif.width, avif.height, avif.contentType, avif.fromCache], [600, 600, 'image/avif', false]);
  assert.deepEqual([webp.width, webp.height, webp.contentType, webp.fromCache], [600, 600, 'image/webp', false]);
  assert.equal(avif.body.subarray(4, 12).toString('latin1'), 'ftypavif');
  assert.equal(webp.body.subarray(0, 4).toString('latin1') + webp.body.subarray(8, 12).toString('latin1'), 'RIFFWEBP');
  assert.deepEqual(await imageInfo(avif.body), { width: 600, height: 600, format: 'avif' });
  assert.deepEqual(await imageInfo(webp.body), { width: 600, height: 600, format: 'webp' });
  assert.ok(avif.body.length * 20 < big.length, `AVIF ${avif.body.length} B vs PNG ${big.length} B`);
  assert.ok(webp.body.length * 20 < big.length, `WebP ${webp.body.length} B vs PNG ${big.length} B`);
  assert.match(avif.etag, /^"[0-9a-f]{40}"$/);
  assert.notEqual(avif.etag, webp.etag);
  assert.equal(iv.stats.made, 2);
  assert.equal(iv.stats.bytes, avif.body.length + webp.body.length);
});

test('never upscales; nothing to gain gives undefined', async () => {
  const dir = freshDir();
  const iv = new ImageVariants({ dir, maxBytes: BIG });
  const webp = await iv.get(small, { width: 5000, format: 'webp' });
  assert.deepEqual([webp?.width, webp?.height, webp?.contentType], [600, 600, 'image/webp']);
  assert.equal(await iv.get(small, { width: 5000 }), undefined, 'no wider and the same format');
  assert.equal(await iv.get(small, { width: 600 }), undefined);
  assert.equal(await iv.get(small, {}), undefined);
  assert.equal(await iv.get(small, { width: 5000 }), undefined, 'remembered');
  assert.equal(iv.stats.skipped, 4);
  // the format kept, the width smaller: a smaller PNG
  const png = await iv.get(small, { width: 300 });
  assert.deepEqual([png?.width, png?.height, png?.contentType], [300, 300, 'image/png']);
  assert.deepEqual(await imageInfo(png!.body), { width: 300, height: 300, format: 'png' });
  // a variant that is not smaller than the original is not worth sending
  const dot = await sharp({ create: { width: 1, height: 1, channels: 3, background: '#c33' } }).png().toBuffer();
  assert.equal(await iv.get(dot, { format: 'avif' }), undefined);
  assert.equal(iv.stats.skipped, 5);
  assert.equal(iv.stats.made, 2);
  assert.equal(files(dir).length, 2);
});

test('EXIF orientation is applied before the width is taken', async () => {
  // stored 400×200, shown 200×400 (orientation 6: rotate 90°)
  const sideways = await sharp(small).extract({ left: 0, top: 0, width: 400, height: 200 }).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
  assert.deepEqual(await imageInfo(sideways), { width: 200, height: 400, format: 'jpeg' });
  const v = await new ImageVariants({ dir: freshDir(), maxBytes: BIG }).get(sideways, { width: 100, format: 'webp' });
  assert.deepEqual([v?.width, v?.height], [100, 200]);
  assert.deepEqual(await imageInfo(v!.body), { width: 100, height: 200, format: 'webp' });
});

test('a second get comes from the cache; a new instance on the same dir serves it from disk', async () => {
  const dir = freshDir();
  const first = new ImageVariants({ dir, maxBytes: BIG });
  const made = await first.get(small, { width: 200, format: 'webp' });
  const again = await first.get(small, { width: 200, format: 'webp' });
  assert.equal(made?.fromCache, false);
  assert.equal(again?.fromCache, true);
  assert.deepEqual([first.stats.made, first.stats.hits], [1, 1]);
  assert.ok(again!.body.equals(made!.body));
  assert.equal(again!.etag, made!.etag);
  assert.deepEqual(files(dir), [`${made!.etag.slice(1, -1)}-200x200.webp`]);

  const restarted = new ImageVariants({ dir, maxBytes: BIG });
  const fromDisk = await restarted.get(small, { width: 200, format: 'webp' });
  assert.deepEqual([fromDisk?.fromCache, fromDisk?.width, fromDisk?.height, fromDisk?.contentType, fromDisk?.etag], [true, 200, 200, 'image/webp', made!.etag]);
  assert.ok(fromDisk!.body.equals(made!.body));
  assert.deepEqual([restarted.stats.made, restarted.stats.hits, restarted.stats.bytes], [0, 1, bytesOnDisk(dir)]);

  // another quality is another variant
  const q50 = await new ImageVariants({ dir, maxBytes: BIG, quality: { webp: 50 } }).get(small, { width: 200, format: 'webp' });
  assert.equal(q50?.fromCache, false);
  assert.notEqual(q50?.etag, made!.etag);
  assert.ok(q50!.body.length < made!.body.length);
});

test('the size cap deletes the least recently used variant', async () => {
  const size = async (width: number) => (await new ImageVariants({ dir: freshDir(), maxBytes: BIG }).get(small, { width, format: 'webp' }))!.body.length;
  const [s100, s200, s300] = [await size(100), await size(200), await size(300)];
  assert.ok(s100 < s200 && s200 < s300, `${s100} ${s200} ${s300}`);
  const dir = freshDir();
  const cap = s100 + s300;
  const iv = new ImageVariants({ dir, maxBytes: cap });
  await iv.get(small, { width: 100, format: 'webp' });
  await iv.get(small, { width: 200, format: 'webp' });
  assert.equal(iv.stats.evicted, 0, 'two fit');
  assert.equal((await iv.get(small, { width: 100, format: 'webp' }))?.fromCache, true, '100 is now more recent than 200');
  await iv.get(small, { width: 300, format: 'webp' });
  assert.equal(iv.stats.evicted, 1);
  assert.deepEqual(files(dir).map((f) => f.split('-')[1]).sort(), ['100x100.webp', '300x300.webp']);
  assert.ok(!files(dir).some((f) => f.endsWith('-200x200.webp')), 'the least recently used is gone');
  assert.equal(iv.stats.bytes, bytesOnDisk(dir));
  assert.ok(bytesOnDisk(dir) <= cap);
  assert.equal((await iv.get(small, { width: 200, format: 'webp' }))?.fromCache, false, 'made again');
  assert.ok(bytesOnDisk(dir) <= cap);
  assert.equal(iv.stats.bytes, bytesOnDisk(dir));
});

test('concurrent gets of one variant share one sharp job', async () => {
  const dir = freshDir();
  const iv = new ImageVariants({ dir, maxBytes: BIG });
  const all = await Promise.all(Array.from({ length: 6 }, () => iv.get(big, { width: 300, format: 'webp' })));
  assert.equal(iv.stats.made, 1);
  assert.equal(iv.stats.shared, 5);
  assert.ok(all.every((v) => v?.width === 300 && v.body.equals(all[0]!.body)));
  assert.equal(files(dir).length, 1);
});

test('bytes sharp cannot read give undefined and count an error, never throw', async () => {
  const dir = freshDir();
  const iv = new ImageVariants({ dir, maxBytes: BIG });
  const garbage = Buffer.from('this is not an image, only text pretending to be one. '.repeat(20));
  assert.equal(await iv.get(garbage, { width: 300, format: 'avif' }), undefined);
  assert.equal(iv.stats.errors, 1);
  assert.equal(await imageInfo(garbage), undefined);
  const truncated = big.subarray(0, 5000);
  assert.equal(await iv.get(truncated, { width: 300, format: 'webp' }), undefined);
  assert.equal(iv.stats.errors, 2);
  assert.deepEqual([iv.stats.made, files(dir)], [0, []]);
});

test('without sharp, get() says to npm install sharp and available() is false', () => {
  // a resolve hook that makes "sharp" missing, as in an install without the optional peer dependency
  const hook = `export async function resolve(s, c, next) { if (s === 'sharp') throw Object.assign(new Error('Cannot find package sharp'), { code: 'ERR_MODULE_NOT_FOUND' }); return next(s, c); }`;
  const register = `import { register } from 'node:module'; register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(hook)}));`;
  const script = `
    import { ImageVariants } from ${JSON.stringify(path.resolve(import.meta.dirname, '../../src/optimize/images.ts'))};
    console.log(JSON.stringify({ available: await ImageVariants.available() }));
    await new ImageVariants({ dir: ${JSON.stringify(freshDir())}, maxBytes: 1 }).get(Buffer.from('x'), {}).catch((e) => console.log(JSON.stringify({ code: e.code, message: e.message })));`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--import', `data:text/javascript,${encodeURIComponent(register)}`, '--input-type=module', '-e', script], { encoding: 'utf8', cwd: path.resolve(import.meta.dirname, '../..') });
  const [a, e] = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(a, { available: false }, r.stderr);
  assert.equal(e.code, 'PERF_ERR_USAGE');
  assert.match(String(e.message), /npm install sharp/);
});
