// The shop's performance faults: realistic mistakes that the optimization engine must find, fix,
// and prove. Each one is switched by configuration (SHOP_FAULTS), so a before/after can be measured.
//   SHOP_FAULTS=all (default) | none | a comma list of names, e.g. "missingIndex,nPlusOne"

export const FAULTS = {
  /** the hot catalog query (products of a category by price) has no index: sequential scan of the catalog */
  missingIndex: 'no index on products (category_id, price_cents): the catalog page scans every product',
  /** order history loads each order's items with one query per order */
  nPlusOne: 'order history runs one query per order (N+1) instead of one join',
  /** catalog facets (brand counts, price bands, sizes) are recomputed from the whole catalog on every call */
  uncachedFacets: 'GET /api/facets aggregates the whole category on every request, no cache',
  /** no gzip/brotli on HTML, JSON and JavaScript */
  uncompressed: 'responses are sent uncompressed',
  /** product images are 1200 px wide where 300 px are shown */
  oversizedImages: 'product images are 4× larger than displayed',
  /** static assets carry no Cache-Control, so browsers fetch them again on every page */
  noCacheHeaders: 'static assets are served without cache headers',
  /** every product image loads eagerly, also the ones below the fold */
  noLazyImages: 'below-the-fold images are not lazy-loaded',
  /** one big render-blocking bundle instead of a small deferred entry plus a lazily loaded chunk */
  unsplitBundle: 'one big render-blocking JavaScript bundle',
} as const;

export type FaultName = keyof typeof FAULTS;
export type Faults = Record<FaultName, boolean>;

export function parseFaults(spec: string | undefined): Faults {
  const names = Object.keys(FAULTS) as FaultName[];
  const value = (spec ?? 'all').trim();
  if (value === 'all' || value === '') return Object.fromEntries(names.map((n) => [n, true])) as Faults;
  const on = Object.fromEntries(names.map((n) => [n, false])) as Faults;
  if (value === 'none') return on;
  for (const raw of value.split(',')) {
    const n = raw.trim();
    if (!(n in FAULTS)) throw new Error(`SHOP_FAULTS: unknown fault "${n}" (known: ${names.join(', ')}, or all / none)`);
    on[n as FaultName] = true;
  }
  return on;
}
