// Image variants for the optimization middleware: a product photo stored at 2400 px and shown at
// 600 px makes the browser fetch 16× the pixels it paints, and AVIF/WebP carry the same picture in
// fewer bytes than PNG/JPEG. A variant is made once with sharp (libvips, on libuv's thread pool, off
// the event loop), kept on disk under a byte cap (least recently used deleted first) so a restart
// reuses it, and is never wider than the original: upscaling adds bytes, not detail. `undefined`
// means "send the original": whenever a variant would not be smaller, the original stays the answer.
// sharp is an optional peer dependency, loaded on first use.
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type sharpModule from 'sharp';
import { PerfError } from '../errors.js';

export type ImageFormat = 'avif' | 'webp';

type Sharp = typeof sharpModule;
type Kind = 'avif' | 'webp' | 'jpeg' | 'png';
const MIME: Record<Kind, string> = { avif: 'image/avif', webp: 'image/webp', jpeg: 'image/jpeg', png: 'image/png' };
/** AVIF 50 is sharp's default; WebP 75 and JPEG 75 are cwebp's and (moz)cjpeg's defaults */
const DEFAULT_QUALITY = { avif: 50, webp: 75, jpeg: 75 };
/** sharp's default. Measured (2 busy cores, detailed 2400→600 px): ~3 s at effort 4, ~0.35 s at 2 for about
 * the same bytes, ~0.13 s at 0 for +50% bytes; WebP ~0.13 s. */
const AVIF_EFFORT = 4;
/** changes with the encoder settings below, so a variant made with other settings is not served under the new key */
const KEY_VERSION = 'v1';
/** "send the original" decisions remembered; past this many the oldest are forgotten (recomputed if asked again) */
const MAX_REMEMBERED = 10_000;
/** a hit refreshes the file's mtime (the recency a restart reads) at most this often */
const TOUCH_MS = 60_000;
/** a temp file this old at start-up was left by a writer that crashed */
const STALE_TMP_MS = 10 * 60_000;
/** past this the original is hashed on libuv's pool (webcrypto), not the event loop: sha1 takes ~1 ms per MB here */
const SYNC_HASH_MAX = 1024 * 1024;
const FILE = /^([0-9a-f]{40})-(\d+)x(\d+)\.(avif|webp|jpeg|png)$/;

/** The best of `formats` Accept lists explicitly with q > 0: the highest q, then the earlier in `formats`.
 * `image/*` or `*\/*` alone never imply a modern format; undefined: keep the original format. */
export function preferredFormat(accept: string | undefined, formats: readonly ImageFormat[]): ImageFormat | undefined {
  if (!accept) return undefined;
  const q = new Map<string, number>();
  for (const part of accept.split(',')) {
    const [type, ...params] = part.split(';');
    const qp = params.find((p) => /^\s*q\s*=/i.test(p));
    // Number(' 0.8') is 0.8; a malformed q is NaN, which is not > 0
    const mime = type.trim().toLowerCase();
    if (!q.has(mime)) q.set(mime, qp === undefined ? 1 : Number(qp.split('=')[1]));
  }
  let best: ImageFormat | undefined;
  let bestQ = 0;
  for (const f of formats) {
    const v = q.get(`image/${f}`) ?? 0;
    if (v > bestQ) [best, bestQ] = [f, v];
  }
  return best;
}

export interface Variant {
  body: Buffer;
  contentType: string;
  width: number;
  height: number;
  /** strong, quoted, derived from the variant key */
  etag: string;
  fromCache: boolean;
}

export interface ImageVariantsOptions {
  /** where variants are kept (created if missing) */
  dir: string;
  /** total bytes of variants kept on disk; least recently used deleted beyond */
  maxBytes: number;
  quality?: { avif?: number; webp?: number; jpeg?: number };
  /** AVIF encoder effort 0–9 (default 4): lower is much faster, a little larger */
  avifEffort?: number;
}

let loading: Promise<Sharp | Error> | undefined;
const loadSharp = () => (loading ??= import('sharp').then((m) => m.default, (e: unknown) => (e instanceof Error ? e : new Error(String(e)))));

async function needSharp(): Promise<Sharp> {
  const s = await loadSharp();
  if (s instanceof Error) throw new PerfError('PERF_ERR_USAGE', `image variants need sharp, which did not load (${s.message.split('\n')[0]}): npm install sharp`, { cause: s });
  return s;
}

/** AVIF is HEIF with AV1 inside; libvips names the container */
const kindOf = (m: sharpModule.Metadata): string => (m.format === 'heif' && m.compression === 'av1' ? 'avif' : m.format);

/** width, height (as displayed, after EXIF orientation), format of an image, or undefined if sharp cannot read it */
export async function imageInfo(buf: Buffer): Promise<{ width: number; height: number; format: string } | undefined> {
  const m = await (await needSharp())(buf).metadata().catch(() => undefined);
  return m?.width && m.height ? { width: m.autoOrient.width, height: m.autoOrient.height, format: kindOf(m) } : undefined;
}

type Quality = typeof DEFAULT_QUALITY & { effort: number };
interface Entry { file: string; size: number; width: number; height: number; kind: Kind; touched: number }

export class ImageVariants {
  /** made: encoded and stored; shared: joined a job running for the same key; skipped: nothing to gain; errors: unreadable input or a failed write */
  readonly stats = { hits: 0, made: 0, shared: 0, skipped: 0, evicted: 0, errors: 0, bytes: 0 };
  readonly #dir: string;
  readonly #maxBytes: number;
  readonly #q: Quality;
  /** key → variant on disk, least recently used first (a Map keeps insertion order; a use re-inserts) */
  readonly #index = new Map<string, Entry>();
  readonly #original = new Map<string, 'skipped' | 'errors'>();
  readonly #running = new Map<string, Promise<Variant | undefined>>();
  #ready: Promise<void> | undefined;

  constructor(o: ImageVariantsOptions) {
    this.#dir = o.dir;
    this.#maxBytes = o.maxBytes;
    this.#q = { ...DEFAULT_QUALITY, ...o.quality, effort: o.avifEffort ?? AVIF_EFFORT };
  }

  /** whether sharp can be loaded (an optional peer dependency) */
  static async available(): Promise<boolean> {
    return !((await loadSharp()) instanceof Error);
  }

  /**
   * `original` at most `want.width` px wide (never wider) in `want.format` (or its own). undefined when
   * there is nothing to gain (same width and format, not smaller, an animation, not PNG/JPEG/WebP/AVIF)
   * or sharp cannot read the bytes (counted in stats.errors, never thrown).
   */
  async get(original: Buffer, want: { width?: number; format?: ImageFormat }): Promise<Variant | undefined> {
    const sharp = await needSharp();
    await (this.#ready ??= this.#scan().catch((e: Error) => {
      this.#ready = undefined;
      throw new PerfError('PERF_ERR_CONFIG', `image variants: cannot use ${this.#dir} (${e.message}): make it writable or choose another dir`, { cause: e });
    }));
    const { avif, webp, jpeg, effort } = this.#q;
    const digest = original.length <= SYNC_HASH_MAX ? crypto.createHash('sha1').update(original).digest() : new Uint8Array(await crypto.subtle.digest('SHA-1', original));
    const key = crypto.createHash('sha1').update(digest).update(`\0${KEY_VERSION} ${sharp.versions.vips} ${want.width ?? ''} ${want.format ?? ''} ${avif} ${webp} ${jpeg} ${effort}`).digest('hex');
    const decided = this.#original.get(key);
    if (decided) {
      this.stats[decided]++;
      return undefined;
    }
    const e = this.#index.get(key);
    const body = e && (await fs.readFile(path.join(this.#dir, e.file)).catch(() => undefined));
    if (e && body) {
      if (this.#index.get(key) === e) this.#used(key, e);
      this.stats.hits++;
      return variant(key, e, body, true);
    }
    // not on disk, or deleted under us (by another process sharing the dir): make it
    if (e) this.#drop(key);
    const running = this.#running.get(key);
    if (running) {
      this.stats.shared++;
      return running;
    }
    const job = this.#make(sharp, key, original, want).finally(() => this.#running.delete(key));
    this.#running.set(key, job);
    return job;
  }

  async #make(sharp: Sharp, key: string, original: Buffer, want: { width?: number; format?: ImageFormat }): Promise<Variant | undefined> {
    let out: { data: Buffer; info: sharpModule.OutputInfo };
    let kind: Kind;
    try {
      const m = await sharp(original).metadata();
      const from = kindOf(m);
      if (!(from in MIME) || (m.pages ?? 1) > 1) return this.#remember(key, 'skipped');
      kind = want.format ?? (from as Kind);
      if (kind === from && (want.width ?? Infinity) >= m.autoOrient.width) return this.#remember(key, 'skipped');
      const img = sharp(original).rotate();
      if (want.width !== undefined) img.resize({ width: want.width, withoutEnlargement: true });
      out = await encode(img, kind, this.#q).toBuffer({ resolveWithObject: true });
    } catch {
      return this.#remember(key, 'errors');
    }
    if (out.data.length >= original.length) return this.#remember(key, 'skipped');
    this.stats.made++;
    const e: Entry = { file: `${key}-${out.info.width}x${out.info.height}.${kind}`, size: out.data.length, width: out.info.width, height: out.info.height, kind, touched: Date.now() };
    const tmp = path.join(this.#dir, `${e.file}.${process.pid}-${crypto.randomBytes(4).toString('hex')}.tmp`);
    try {
      await fs.writeFile(tmp, out.data);
      await fs.rename(tmp, path.join(this.#dir, e.file));
      this.#drop(key);
      this.#index.set(key, e);
      this.stats.bytes += e.size;
      await this.#evict();
    } catch {
      // a full or vanished disk costs the cache, not the response
      this.stats.errors++;
      await fs.rm(tmp, { force: true }).catch(() => {});
    }
    return variant(key, e, out.data, false);
  }

  /** most recently used now; the file's mtime carries that across a restart */
  #used(key: string, e: Entry): void {
    this.#index.delete(key);
    this.#index.set(key, e);
    if (Date.now() - e.touched < TOUCH_MS) return;
    e.touched = Date.now();
    fs.utimes(path.join(this.#dir, e.file), new Date(), new Date()).catch(() => {});
  }

  #remember(key: string, why: 'skipped' | 'errors'): undefined {
    this.stats[why]++;
    if (this.#original.size >= MAX_REMEMBERED) this.#original.delete(this.#original.keys().next().value!);
    this.#original.set(key, why);
    return undefined;
  }

  #drop(key: string): void {
    const e = this.#index.get(key);
    if (e) this.stats.bytes -= e.size;
    this.#index.delete(key);
  }

  async #evict(): Promise<void> {
    for (const [key, e] of this.#index) {
      if (this.stats.bytes <= this.#maxBytes) return;
      this.#drop(key);
      this.stats.evicted++;
      await fs.rm(path.join(this.#dir, e.file), { force: true }).catch(() => {});
    }
  }

  /** The index from the files a previous run left, oldest mtime first; then the cap, which may have shrunk. */
  async #scan(): Promise<void> {
    await fs.mkdir(this.#dir, { recursive: true });
    const stat = (name: string) => fs.stat(path.join(this.#dir, name)).then((st) => ({ name, st }), () => undefined);
    const found = (await Promise.all((await fs.readdir(this.#dir)).map(stat))).filter((f) => f !== undefined);
    for (const { name, st } of found.sort((a, b) => a.st.mtimeMs - b.st.mtimeMs)) {
      const m = FILE.exec(name);
      if (m && !this.#index.has(m[1])) {
        this.#index.set(m[1], { file: name, size: st.size, width: Number(m[2]), height: Number(m[3]), kind: m[4] as Kind, touched: st.mtimeMs });
        this.stats.bytes += st.size;
      } else if (name.endsWith('.tmp') && Date.now() - st.mtimeMs > STALE_TMP_MS) await fs.rm(path.join(this.#dir, name), { force: true }).catch(() => {});
    }
    await this.#evict();
  }
}

function encode(img: sharpModule.Sharp, kind: Kind, q: Quality): sharpModule.Sharp {
  if (kind === 'avif') return img.avif({ quality: q.avif, effort: q.effort });
  if (kind === 'webp') return img.webp({ quality: q.webp });
  if (kind === 'jpeg') return img.jpeg({ quality: q.jpeg, mozjpeg: true });
  // lossless: level 9 costs encode time once and saves bytes on every response
  return img.png({ compressionLevel: 9 });
}

const variant = (key: string, e: Entry, body: Buffer, fromCache: boolean): Variant => ({ body, contentType: MIME[e.kind], width: e.width, height: e.height, etag: `"${key}"`, fromCache });
