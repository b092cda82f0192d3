// Front-end fixes from a real browser's view of a page: a Lighthouse run (its audits' rows, kept by
// lab/lighthouse.ts) and the page's HTML as the app serves it, turned into actions the optimization
// middleware applies and the workflow proves with Lighthouse runs (page-load.ts):
// - image-variants: the images an audit flags (uses-responsive-images, modern-image-formats), per
//   URL template, resized to the widest the page shows them — Lighthouse's wasted share is
//   1 − shown area / natural area, so shown width = natural width × √(1 − wasted) — in AVIF or WebP;
// - page-rewrite, lazy loading: images from the first one Lighthouse finds below the fold
//   (offscreen-images) get loading="lazy", the LCP image fetchpriority="high";
// - page-rewrite, defer: render-blocking scripts (render-blocking-resources) where html.ts's
//   canDefer finds it safe;
// - page-rewrite, sizes: width/height for images without them (unsized-images), from the image
//   files' own headers, where every image of the template has the same size;
// - cache-headers: assets with a short cache lifetime (uses-long-cache-ttl) — a year and immutable
//   only for fingerprinted file names, a day otherwise.
// Templates: a path segment that starts with digits (an id) becomes ":id", as the page routes do.
import type { LighthouseRun, AuditItem } from '../lab/lighthouse.js';
import type { ActionSpec } from './actions.js';
import { canDefer, pageImages } from './html.js';

export interface FrontendFix {
  title: string;
  /** the audit rows it was derived from, in a sentence */
  derivedFrom: string;
  action: ActionSpec;
}

/** "/images/products/17.png" → "/images/products/:id.png"; "/products/17" → "/products/:id". */
export function urlTemplate(pathname: string): string {
  return pathname
    .split('/')
    .map((seg) => seg.replace(/^\d+(?=$|\.)/, ':id'))
    .join('/');
}

/** Width and height from a PNG, JPEG, GIF or WebP file's header; undefined for anything else. */
export function imageSize(b: Buffer): { width: number; height: number } | undefined {
  if (b.length >= 24 && b.readUInt32BE(0) === 0x89504e47) return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
  if (b.length >= 10 && b.toString('latin1', 0, 3) === 'GIF') return { width: b.readUInt16LE(6), height: b.readUInt16LE(8) };
  if (b.length >= 30 && b.toString('latin1', 0, 4) === 'RIFF' && b.toString('latin1', 8, 12) === 'WEBP') {
    const kind = b.toString('latin1', 12, 16);
    if (kind === 'VP8X') return { width: 1 + b.readUIntLE(24, 3), height: 1 + b.readUIntLE(27, 3) };
    if (kind === 'VP8 ') return { width: b.readUInt16LE(26) & 0x3fff, height: b.readUInt16LE(28) & 0x3fff };
    if (kind === 'VP8L') {
      const bits = b.readUInt32LE(21);
      return { width: 1 + (bits & 0x3fff), height: 1 + ((bits >> 14) & 0x3fff) };
    }
  }
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8) {
    for (let i = 2; i + 9 < b.length; ) {
      if (b[i] !== 0xff) return undefined;
      const marker = b[i + 1];
      const len = b.readUInt16BE(i + 2);
      // SOF0–SOF15, except DHT (C4), JPG (C8) and DAC (CC)
      if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) return { width: b.readUInt16BE(i + 7), height: b.readUInt16BE(i + 5) };
      i += 2 + len;
    }
  }
  return undefined;
}

const FINGERPRINT = /[.-][0-9a-f]{8,}\.[a-z0-9]+$|[.-][A-Za-z0-9_-]{8,}\.(?:js|css|woff2?|png|jpe?g|webp|avif|svg)$/;

export interface FrontendInputs {
  /** the page Lighthouse loaded */
  page: string;
  /** its representative run (with audit rows) */
  run: LighthouseRun;
  /** fetches a URL's body as the browser would (default: fetch) */
  fetchBytes?: (url: string) => Promise<Buffer>;
}

const rows = (run: LighthouseRun, audit: string): AuditItem[] => run.audits[audit]?.items ?? [];
const failing = (run: LighthouseRun, audit: string) => {
  const a = run.audits[audit];
  return a !== undefined && a.score !== null && a.score < 0.9;
};
const pathOf = (url: string, base: string) => new URL(url, base).pathname;

/** The fixes this page needs, each an action the workflow can apply, measure and roll back. */
export async function frontendFixes(i: FrontendInputs): Promise<FrontendFix[]> {
  const fetchBytes = i.fetchBytes ?? (async (u: string) => Buffer.from(await (await fetch(u, { signal: AbortSignal.timeout(30_000) })).arrayBuffer()));
  const page = i.page;
  const route = urlTemplate(new URL(page).pathname);
  const html = (await fetchBytes(page)).toString('utf8');
  const images = pageImages(html).map((img) => ({ ...img, path: img.src ? pathOf(img.src, page) : '' }));
  const fixes: FrontendFix[] = [];
  const sizes = new Map<string, { width: number; height: number } | undefined>();
  const sizeOf = async (path: string) => {
    if (!sizes.has(path)) sizes.set(path, imageSize(await fetchBytes(new URL(path, page).href).catch(() => Buffer.alloc(0))));
    return sizes.get(path);
  };

  // images: per template, the widest any of them is shown, and modern formats
  const responsive = failing(i.run, 'uses-responsive-images') ? rows(i.run, 'uses-responsive-images') : [];
  const modern = failing(i.run, 'modern-image-formats') ? rows(i.run, 'modern-image-formats') : [];
  const responsiveUrls = new Set(responsive.flatMap((r) => (typeof r.url === 'string' ? [pathOf(r.url, page)] : [])));
  const byTemplate = new Map<string, { widths: number[]; natural: number[]; urls: string[] }>();
  for (const r of [...responsive, ...modern]) {
    if (typeof r.url !== 'string' || r.url.startsWith('data:')) continue;
    const path = pathOf(r.url, page);
    const t = urlTemplate(path);
    const g = byTemplate.get(t) ?? { widths: [], natural: [], urls: [] };
    byTemplate.set(t, g);
    const size = await sizeOf(path);
    if (!size) continue;
    g.urls.push(path);
    g.natural.push(size.width);
    // a modern-image-formats row says nothing of the size the image is shown at
    if (responsive.includes(r) && typeof r.wastedPercent === 'number') g.widths.push(Math.ceil(size.width * Math.sqrt(Math.max(0, 1 - r.wastedPercent / 100))));
  }
  for (const [t, g] of byTemplate) {
    if (g.urls.length === 0) continue;
    // an image of the template on the page without a responsive-images row may be shown at its
    // full width (Lighthouse lists only those it finds oversized): then the template keeps its width
    const unlisted = images.filter((img) => img.path && urlTemplate(img.path) === t && !responsiveUrls.has(img.path));
    const width = g.widths.length && unlisted.length === 0 ? Math.max(...g.widths) : Math.max(...g.natural);
    const formats = modern.length ? (['avif', 'webp'] as const) : [];
    if (width >= Math.max(...g.natural) && formats.length === 0) continue;
    fixes.push({
      title: `Serve ${t} at ${width} px${formats.length ? ' as AVIF/WebP' : ''}`,
      derivedFrom: `Lighthouse ${i.run.lighthouseVersion} (${i.run.preset}) on ${page}: ${g.urls.length} image(s) of ${t}, natural width ${Math.max(...g.natural)} px, shown at most ${width} device px (uses-responsive-images: width × √(1 − wasted share))${formats.length ? '; modern-image-formats flagged them' : ''}`,
      action: { type: 'image-variants', params: { route: t, width, formats: [...formats] }, pages: [page], probe: g.urls[0] },
    });
  }

  // lazy loading: from the first image below the fold; the LCP image first
  const offscreen = new Set(rows(i.run, 'offscreen-images').flatMap((r) => (typeof r.url === 'string' ? [pathOf(r.url, page)] : [])));
  const lazyFrom = images.findIndex((img) => offscreen.has(img.path));
  const lcpSnippet = String(rows(i.run, 'largest-contentful-paint-element')[0]?.snippet ?? '');
  const lcpSrc = /^<img\b/i.test(lcpSnippet) ? /\bsrc="([^"]*)"/i.exec(lcpSnippet)?.[1] : undefined;
  const lcpIndex = lcpSrc ? images.findIndex((img) => img.path === pathOf(lcpSrc, page)) : -1;
  const priority = lcpIndex >= 0 && images[lcpIndex].attrs.fetchpriority !== 'high' ? lcpIndex : undefined;
  if (lazyFrom >= 0 || priority !== undefined) {
    fixes.push({
      title: `Lazy-load the images below the fold of ${route}${priority !== undefined ? ', the LCP image first' : ''}`,
      derivedFrom: `Lighthouse on ${page}: ${[lazyFrom >= 0 ? `${offscreen.size} offscreen image(s) (offscreen-images), the first at document position ${lazyFrom + 1}` : '', priority !== undefined ? `the LCP element is image ${priority + 1} (${lcpSrc}), without fetchpriority` : ''].filter(Boolean).join('; ')}`,
      action: { type: 'page-rewrite', params: { route, ...(lazyFrom >= 0 ? { lazyFrom } : {}), ...(priority !== undefined ? { priorityImage: priority } : {}) }, pages: [page] },
    });
  }

  // render-blocking scripts that can wait
  const blocking = failing(i.run, 'render-blocking-resources') ? rows(i.run, 'render-blocking-resources') : [];
  const deferScripts = blocking.flatMap((r) => (typeof r.url === 'string' && /\.m?js(\?|$)/.test(pathOf(r.url, page)) && canDefer(html, pathOf(r.url, page)).ok ? [pathOf(r.url, page)] : []));
  if (deferScripts.length) {
    const unused = rows(i.run, 'unused-javascript').filter((r) => typeof r.url === 'string' && deferScripts.includes(pathOf(r.url, page)));
    fixes.push({
      title: `Defer ${deferScripts.join(', ')} on ${route}`,
      derivedFrom: `Lighthouse on ${page}: render-blocking-resources (~${Math.round(i.run.audits['render-blocking-resources']?.savingsMs ?? 0)} ms); no inline script or document.write after them${unused.length ? `; unused-javascript: ${unused.map((u) => `${Math.round(Number(u.wastedBytes ?? 0) / 1024)} of ${Math.round(Number(u.totalBytes ?? 0) / 1024)} KiB of ${pathOf(String(u.url), page)} unused${u.modules ? ` (by its source map, worth splitting out: ${u.modules})` : ''}`).join(', ')} (splitting it is the app's change)` : ''}`,
      action: { type: 'page-rewrite', params: { route, deferScripts }, pages: [page] },
    });
  }

  // explicit sizes, where every image of a template has the same
  const unsized = failing(i.run, 'unsized-images') ? rows(i.run, 'unsized-images') : [];
  const sized: { src: string; width: number; height: number }[] = [];
  for (const t of new Set(unsized.flatMap((r) => (typeof r.url === 'string' ? [urlTemplate(pathOf(r.url, page))] : [])))) {
    const all = await Promise.all(images.filter((img) => img.path && urlTemplate(img.path) === t).map((img) => sizeOf(img.path)));
    if (all.length && all.every((s) => s && s.width === all[0]!.width && s.height === all[0]!.height)) sized.push({ src: t, width: all[0]!.width, height: all[0]!.height });
  }
  if (sized.length) {
    fixes.push({
      title: `Give the images of ${route} their width and height`,
      derivedFrom: `Lighthouse on ${page}: unsized-images; the files' own sizes (${sized.map((x) => `${x.src} ${x.width}×${x.height}`).join(', ')})`,
      action: { type: 'page-rewrite', params: { route, imageSizes: sized }, pages: [page] },
    });
  }

  // long cache lifetimes: a year and immutable only where the file name changes with the content
  const shortTtl = failing(i.run, 'uses-long-cache-ttl') ? rows(i.run, 'uses-long-cache-ttl').flatMap((r) => (typeof r.url === 'string' ? [new URL(r.url, page)] : [])) : [];
  const local = shortTtl.filter((u) => u.origin === new URL(page).origin);
  const fingerprinted = local.filter((u) => FINGERPRINT.test(u.pathname));
  for (const [urls, maxAgeSeconds, immutable] of [
    [fingerprinted, 31_536_000, true],
    [local.filter((u) => !fingerprinted.includes(u)), 86_400, false],
  ] as const) {
    if (urls.length === 0) continue;
    const dirs = [...new Set(urls.map((u) => u.pathname.replace(/[^/]*$/, '')))].filter((d) => d !== '/');
    if (dirs.length === 0) continue;
    fixes.push({
      title: `Cache ${dirs.join(', ')} for ${immutable ? 'a year (immutable)' : 'a day'}`,
      derivedFrom: `Lighthouse on ${page}: uses-long-cache-ttl lists ${urls.length} asset(s) there${immutable ? ' with fingerprinted names' : ' whose names do not change with their content (so a day, not a year)'}`,
      action: { type: 'cache-headers', params: { paths: dirs, maxAgeSeconds, immutable }, urls: urls.map((u) => u.href).slice(0, 50) },
    });
  }
  return fixes;
}
