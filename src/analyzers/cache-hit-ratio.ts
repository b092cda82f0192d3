// Low cache hit ratio: an application cache (the SDK's Cache helper, by key prefix) that misses
// most of the time costs a round trip to Redis on top of the work it was meant to save.
import type { Analyzer } from './types.js';

export const cacheHitRatio: Analyzer<{ minRatio: number; minLookups: number }> = {
  meta: { id: 'cache-hit-ratio', title: 'Low cache hit ratio', description: 'An application cache that mostly misses: its TTL is too short, its keys too specific, or it is emptied too often.', requires: ['runtime'] },
  defaults: {
    minRatio: { value: 0.5, source: 'below one hit in two the cache round trip costs about as much as it saves' },
    minLookups: { value: 100, source: 'fewer lookups are a cold start, not a ratio' },
  },
  async analyze(inputs, o) {
    const caches = inputs.runtime!.caches;
    if (caches.length === 0) return { notApplicable: 'no cache lookups recorded (the SDK Cache helper reports solemate.cache.requests)' };
    return caches
      .filter((c) => c.hits + c.misses >= o.minLookups && c.hits / (c.hits + c.misses) < o.minRatio)
      .map((c) => {
        const ratio = c.hits / (c.hits + c.misses);
        return {
          severity: ratio < o.minRatio / 2 ? ('warning' as const) : ('info' as const),
          title: `${c.service} cache ${c.prefix}: ${Math.round(ratio * 100)}% hits`,
          target: { service: c.service, prefix: c.prefix },
          evidence: { headings: [{ key: 'hits', label: 'hits' }, { key: 'misses', label: 'misses' }, { key: 'ratio', label: 'hit ratio' }], rows: [{ hits: c.hits, misses: c.misses, ratio: `${Math.round(ratio * 100)}%` }] },
          impact: { metric: 'wasted lookups', estimate: c.misses, unit: 'lookups', derivedFrom: `solemate.cache.requests by cache.result for prefix ${c.prefix} in the window: each miss pays the cache round trip and the work` },
        };
      });
  },
};
