// The runtime settings document: what the optimizer writes to the store, the performance server
// serves at GET /api/optimizations/settings, and the app's optimization middleware polls and
// applies (response caching per route, compression, cache headers on static paths, pool sizes,
// image variants, page rewrites).
// It is the contract between the two sides, so it lives here; optimize/settings.ts reads and
// writes it in the store.

/**
 * Each cached response lives a random 80–100% of its route's TTL, so responses cached together do
 * not all expire together: at a fixed TTL a cache filled at once (enabled, emptied by a write,
 * restarted) misses on every key in the same few seconds, one TTL later and every TTL after that,
 * each wave a burst of the work the cache saves. Downward only: no answer is older than the TTL.
 */
export const TTL_JITTER = 0.2;

export interface RouteCacheParams {
  method: 'GET';
  /** route template as the app's router writes it, e.g. /api/products/:id */
  route: string;
  /** the longest a response is kept (each lives a random 80–100% of it: TTL_JITTER) */
  ttlMs: number;
  /** 'redis' needs a client given to the middleware; without one it falls back to memory */
  backend: 'memory' | 'redis';
  /** largest number of responses kept in memory (LRU) */
  maxEntries: number;
  /** writes that empty this route's cache: "METHOD /template" (its own resource's writes always do) */
  invalidatedBy: string[];
}
/** One of `invalidatedBy`: "POST /api/checkout" → { method: 'POST', route: '/api/checkout' } (no path: "/"). */
export function writeSpec(spec: string): { method: string; route: string } {
  const [method, ...path] = spec.split(' ');
  return { method: method.toUpperCase(), route: path.join(' ') || '/' };
}
export interface CompressionParams {
  /** bodies smaller than this are sent as they are (bytes) */
  threshold: number;
  brotli: boolean;
}
export interface CacheHeadersParams {
  /** path prefixes of static assets */
  paths: string[];
  maxAgeSeconds: number;
  immutable: boolean;
}
export interface PoolSizeParams {
  /** the name the app registered the pool under (default: "default") */
  pool: string;
  max: number;
}

/** Resized, modern-format variants of the images under one URL template (made with sharp in the app). */
export interface ImageVariantsParams {
  /** template of the image URLs, e.g. /images/products/:id.png */
  route: string;
  /** widest variant in pixels: the widest the pages show the image, in device pixels; never upscaled */
  width: number;
  /** modern formats sent to browsers whose Accept lists them; the original format to the rest */
  formats: ('avif' | 'webp')[];
}
/** Start-tag edits on the HTML of one page route (optimize/html.ts). */
export interface PageRewriteParams {
  /** template of the page, e.g. /products/:id */
  route: string;
  /** images from this document-order index on get loading="lazy" decoding="async" (below the fold) */
  lazyFrom?: number;
  /** the LCP image's document-order index: fetchpriority="high", never lazy */
  priorityImage?: number;
  /** URL paths of render-blocking classic scripts that get `defer` */
  deferScripts?: string[];
  /** width/height for images without them, by src template */
  imageSizes?: { src: string; width: number; height: number }[];
}

export type SettingEntry =
  | { id: string; type: 'route-cache'; enabled: boolean; params: RouteCacheParams }
  | { id: string; type: 'compression'; enabled: boolean; params: CompressionParams }
  | { id: string; type: 'cache-headers'; enabled: boolean; params: CacheHeadersParams }
  | { id: string; type: 'pool-size'; enabled: boolean; params: PoolSizeParams }
  | { id: string; type: 'image-variants'; enabled: boolean; params: ImageVariantsParams }
  | { id: string; type: 'page-rewrite'; enabled: boolean; params: PageRewriteParams };

export interface OptimizationSettings {
  /** increases with every change; the middleware echoes it in x-solemate-settings */
  version: number;
  entries: SettingEntry[];
}
