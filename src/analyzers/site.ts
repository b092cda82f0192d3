// The site input: the page as a browser would load it first — the HTML, its images and scripts —
// fetched with Accept-Encoding, with the response headers and sizes the front-end analyzers read.
// Only allow-listed (loopback by default) targets are fetched.

/** Said in the title of every finding made from the fetched page rather than a browser's run. */
export const FETCH_ONLY = ' (fetch-only: no browser run of the site; solemate-perf lighthouse gives one)';

export interface Resource {
  url: string;
  kind: 'document' | 'script' | 'image';
  status: number;
  bytes: number;
  contentType: string;
  contentEncoding: string | undefined;
  cacheControl: string | undefined;
  /** PNG width in pixels */
  intrinsicWidth?: number;
  /** <img width>, <img loading>, <script> placement as written in the page */
  attributes: Record<string, string>;
  /** 0-based order of the <img> in the page */
  index?: number;
  /** why it could not be fetched (status 0): a third-party script down, a host not reachable from here */
  error?: string;
}

export interface SiteSnapshot {
  url: string;
  resources: Resource[];
}

function attrs(tag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of tag.matchAll(/([a-zA-Z-]+)(?:\s*=\s*"([^"]*)"|\s*=\s*'([^']*)'|(?=[\s>/]))/g)) out[m[1].toLowerCase()] = m[2] ?? m[3] ?? '';
  return out;
}

async function fetchResource(url: string, kind: Resource['kind'], attributes: Record<string, string>, index?: number): Promise<Resource> {
  const res = await fetch(url, { headers: { 'accept-encoding': 'gzip, deflate, br' }, signal: AbortSignal.timeout(10_000) });
  const body = Buffer.from(await res.arrayBuffer());
  // fetch decompresses: the bytes on the wire are the encoded length when the server says so
  const wire = Number(res.headers.get('content-length') ?? body.length);
  const r: Resource = { url, kind, status: res.status, bytes: res.headers.get('content-encoding') ? wire : body.length, contentType: res.headers.get('content-type') ?? '', contentEncoding: res.headers.get('content-encoding') ?? undefined, cacheControl: res.headers.get('cache-control') ?? undefined, attributes, index };
  if (body.length > 24 && body.readUInt32BE(0) === 0x89504e47) r.intrinsicWidth = body.readUInt32BE(16);
  return r;
}

export async function collectSite(url: string, maxImages = 12): Promise<SiteSnapshot> {
  const page = await fetchResource(url, 'document', {});
  const html = await (await fetch(url, { signal: AbortSignal.timeout(10_000) })).text();
  const head = /<head[\s\S]*?<\/head>/i.exec(html)?.[0] ?? '';
  const resources: Resource[] = [page];
  // a resource that cannot be fetched is kept with status 0 and its error, not the end of the analysis
  const tryFetch = (src: string, kind: Resource['kind'], a: Record<string, string>, index?: number) =>
    fetchResource(src, kind, a, index).catch((e: Error): Resource => ({ url: src, kind, status: 0, bytes: 0, contentType: '', contentEncoding: undefined, cacheControl: undefined, attributes: a, index, error: (e.cause as Error | undefined)?.message ?? e.message }));
  for (const m of html.matchAll(/<script\b[^>]*\bsrc\s*=\s*["'][^"']+["'][^>]*>/gi)) {
    const a = attrs(m[0]);
    resources.push(await tryFetch(new URL(a.src, url).toString(), 'script', { ...a, inHead: String(head.includes(m[0])) }));
  }
  let i = 0;
  for (const m of html.matchAll(/<img\b[^>]*>/gi)) {
    const a = attrs(m[0]);
    if (!a.src) continue;
    if (i < maxImages) resources.push(await tryFetch(new URL(a.src, url).toString(), 'image', a, i));
    else resources.push({ url: new URL(a.src, url).toString(), kind: 'image', status: 0, bytes: 0, contentType: '', contentEncoding: undefined, cacheControl: undefined, attributes: a, index: i });
    i++;
  }
  return { url, resources };
}
