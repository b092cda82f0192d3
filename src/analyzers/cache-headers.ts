// Static assets without cache headers: every page view downloads them again.
import type { Analyzer } from './types.js';
import { FETCH_ONLY } from './site.js';

export const cacheHeaders: Analyzer<{ minMaxAgeSeconds: number }> = {
  meta: { id: 'cache-headers', title: 'Static assets without cache headers', description: 'Scripts and images served without a Cache-Control that lets browsers keep them.', requires: ['site'] },
  defaults: { minMaxAgeSeconds: { value: 86_400, source: 'one day: with shorter lifetimes most returning visitors download the asset again' } },
  async analyze(inputs, o) {
    const statics = inputs.site!.resources.filter((r) => r.status === 200 && (r.kind === 'script' || r.kind === 'image'));
    const weak = statics.filter((r) => {
      const cc = r.cacheControl ?? '';
      const maxAge = Number(/max-age=(\d+)/.exec(cc)?.[1] ?? 0);
      return /no-store|no-cache/.test(cc) || maxAge < o.minMaxAgeSeconds;
    });
    if (weak.length === 0) return [];
    const bytes = weak.reduce((s, r) => s + r.bytes, 0);
    return [
      {
        severity: bytes > 500_000 ? 'critical' : 'warning',
        title: `${weak.length} static assets without a long cache lifetime (${Math.round(bytes / 1024)} KiB per page view)${FETCH_ONLY}`,
        target: { site: inputs.site!.url, mode: 'fetch-only' },
        evidence: { headings: [{ key: 'url', label: 'URL' }, { key: 'cc', label: 'Cache-Control' }, { key: 'kib', label: 'KiB' }], rows: weak.map((r) => ({ url: r.url, cc: r.cacheControl ?? '(none)', kib: Number((r.bytes / 1024).toFixed(1)) })) },
        impact: { metric: 'bytes per repeat view', estimate: Math.round(bytes / 1024), unit: 'KiB', derivedFrom: 'the sizes of the assets a returning visitor downloads again' },
      },
    ];
  },
};
