// Uncompressed text responses: HTML, JSON, JavaScript and CSS sent without gzip/brotli to a client
// that asked for it.
import type { Analyzer } from './types.js';
import { FETCH_ONLY } from './site.js';

export const compression: Analyzer<{ minBytes: number }> = {
  meta: { id: 'compression', title: 'Uncompressed responses', description: 'Text responses sent without gzip or brotli although the client accepts them.', requires: ['site'] },
  defaults: { minBytes: { value: 1024, source: "the compression middleware's default threshold (expressjs/compression): smaller bodies gain little" } },
  async analyze(inputs, o) {
    const text = inputs.site!.resources.filter((r) => r.status === 200 && /text\/|javascript|json|css|xml|svg/.test(r.contentType) && r.bytes >= o.minBytes);
    const plain = text.filter((r) => !r.contentEncoding);
    if (plain.length === 0) return [];
    const bytes = plain.reduce((s, r) => s + r.bytes, 0);
    return [
      {
        severity: bytes > 100_000 ? 'critical' : 'warning',
        title: `${plain.length} text responses sent uncompressed (${Math.round(bytes / 1024)} KiB)${FETCH_ONLY}`,
        target: { site: inputs.site!.url, mode: 'fetch-only' },
        evidence: { headings: [{ key: 'url', label: 'URL' }, { key: 'type', label: 'type' }, { key: 'kib', label: 'KiB' }], rows: plain.map((r) => ({ url: r.url, type: r.contentType.split(';')[0], kib: Number((r.bytes / 1024).toFixed(1)) })) },
        impact: { metric: 'bytes transferred', estimate: Math.round((bytes * 0.7) / 1024), unit: 'KiB', derivedFrom: `${Math.round(bytes / 1024)} KiB uncompressed × 70%, the typical gzip saving on HTML, JSON and JavaScript` },
      },
    ];
  },
};
