// Images: larger than displayed (intrinsic width vs the width the page gives them), and
// below-the-fold images that load eagerly.
import type { Analyzer } from './types.js';
import { FETCH_ONLY } from './site.js';

export const images: Analyzer<{ oversize: number; eagerAbove: number }> = {
  meta: { id: 'images', title: 'Oversized and eagerly loaded images', description: 'Images wider than they are shown, and images below the first screen without loading="lazy".', requires: ['site'] },
  defaults: {
    oversize: { value: 2, source: 'twice the displayed width covers 2× (retina) screens; more is wasted bytes' },
    eagerAbove: { value: 8, source: 'the first row or two of a product grid is on the first screen; the rest can wait (web.dev, "Browser-level image lazy loading")' },
  },
  async analyze(inputs, o) {
    const imgs = inputs.site!.resources.filter((r) => r.kind === 'image');
    if (imgs.length === 0) return { notApplicable: 'the page has no images' };
    const findings = [];
    const big = imgs.filter((r) => r.intrinsicWidth !== undefined && Number(r.attributes.width || 300) * o.oversize < r.intrinsicWidth);
    if (big.length) {
      const bytes = big.reduce((s, r) => s + r.bytes, 0);
      findings.push({
        severity: 'critical' as const,
        title: `${big.length} images are more than ${o.oversize}× wider than shown${FETCH_ONLY}`,
        target: { site: inputs.site!.url, issue: 'oversized', mode: 'fetch-only' },
        evidence: { headings: [{ key: 'url', label: 'URL' }, { key: 'w', label: 'intrinsic width' }, { key: 'shown', label: 'shown at' }, { key: 'kib', label: 'KiB' }], rows: big.map((r) => ({ url: r.url, w: r.intrinsicWidth!, shown: r.attributes.width ? `${r.attributes.width} px` : '(no width: assumed 300 px, the grid column)', kib: Number((r.bytes / 1024).toFixed(0)) })) },
        impact: { metric: 'image bytes', estimate: Math.round((bytes * (1 - (300 * o.oversize) ** 2 / Math.max(...big.map((r) => r.intrinsicWidth! ** 2)))) / 1024), unit: 'KiB', derivedFrom: `resizing to ${o.oversize}× the shown width: bytes scale with the pixel count` },
      });
    }
    const eager = imgs.filter((r) => (r.index ?? 0) >= o.eagerAbove && r.attributes.loading !== 'lazy');
    if (eager.length)
      findings.push({
        severity: 'warning' as const,
        title: `${eager.length} below-the-fold images load eagerly${FETCH_ONLY}`,
        target: { site: inputs.site!.url, issue: 'eager', mode: 'fetch-only' },
        evidence: { headings: [{ key: 'url', label: 'URL' }, { key: 'pos', label: 'position' }], rows: eager.map((r) => ({ url: r.url, pos: (r.index ?? 0) + 1 })) },
        impact: { metric: 'requests before the page is usable', estimate: eager.length, unit: 'requests', derivedFrom: `images after the first ${o.eagerAbove} without loading="lazy"` },
      });
    return findings;
  },
};
