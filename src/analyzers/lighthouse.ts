// The front end as a real browser sees it: the opportunities of the newest Lighthouse run stored for
// the site (solemate-perf lighthouse --server), each with Lighthouse's own estimated savings (ms,
// bytes) as its evidence, and real users' p75 LCP on that page (POST /v1/rum) as its stake. The
// fetch-only analyzers (compression, cache-headers, images, bundle) are the fallback where no
// browser run exists, and say so in every finding.
import type { Analyzer, Finding } from './types.js';

/** The audits read, grouped as the fixes are, with their Lighthouse titles. */
const AUDITS: Record<string, { group: 'images' | 'scripts' | 'transfer'; title: string }> = {
  'uses-responsive-images': { group: 'images', title: 'Properly size images' },
  'modern-image-formats': { group: 'images', title: 'Serve images in modern formats' },
  'offscreen-images': { group: 'images', title: 'Defer offscreen images' },
  'unsized-images': { group: 'images', title: 'Image elements do not have explicit width and height' },
  'lcp-lazy-loaded': { group: 'images', title: 'Largest Contentful Paint image was lazily loaded' },
  'prioritize-lcp-image': { group: 'images', title: 'Preload the Largest Contentful Paint image' },
  'unused-javascript': { group: 'scripts', title: 'Reduce unused JavaScript' },
  'render-blocking-resources': { group: 'scripts', title: 'Eliminate render-blocking resources' },
  'legacy-javascript': { group: 'scripts', title: 'Avoid serving legacy JavaScript to modern browsers' },
  'bootup-time': { group: 'scripts', title: 'Reduce JavaScript execution time' },
  'uses-text-compression': { group: 'transfer', title: 'Enable text compression' },
  'uses-long-cache-ttl': { group: 'transfer', title: 'Serve static assets with an efficient cache policy' },
  'total-byte-weight': { group: 'transfer', title: 'Avoid enormous network payloads' },
};

export const lighthouseAudits: Analyzer<{ maxScore: number; criticalMs: number }> = {
  meta: { id: 'lighthouse', title: 'Front-end opportunities (Lighthouse)', description: "The newest stored Lighthouse run's failing opportunities, with Lighthouse's estimated savings and real users' LCP on the page.", requires: ['lighthouse'] },
  defaults: {
    maxScore: { value: 0.9, source: "Lighthouse's own pass mark: an audit scoring 0.9 or more is shown as passed" },
    criticalMs: { value: 1000, source: 'a second of estimated LCP or load savings: the gap between a good (2.5 s) and a poor (4 s) LCP is 1.5 s' },
  },
  async analyze(inputs, o) {
    const l = inputs.lighthouse!;
    const run = l.run;
    const stake = l.rumP75LcpMs === undefined ? 'no real-user LCP on this page yet' : `real users' p75 LCP on ${l.page}: ${Math.round(l.rumP75LcpMs)} ms over ${l.rumPageViews ?? 0} page views`;
    const out: Finding[] = [];
    for (const [id, meta] of Object.entries(AUDITS)) {
      const a = run.audits[id];
      if (!a || a.score === null || a.score >= o.maxScore) continue;
      const ms = a.savingsMs ?? (id === 'bootup-time' ? a.numericValue : undefined);
      const bytes = a.savingsBytes ?? (id === 'total-byte-weight' ? a.numericValue : undefined);
      // which scripts, and by their source maps which modules, hold the unused bytes: what to split out
      const detail = id === 'unused-javascript' ? (a.items ?? []).map((r) => `${String(r.url ?? '?')}: ${Math.round(Number(r.wastedBytes ?? 0) / 1024)} of ${Math.round(Number(r.totalBytes ?? 0) / 1024)} KiB unused${r.modules ? ` (${r.modules})` : ''}`).join('; ') : '';
      out.push({
        severity: (ms ?? 0) >= o.criticalMs || a.score < 0.5 ? 'critical' : 'warning',
        title: `${meta.title} (${id}${ms ? `, ~${Math.round(ms)} ms` : ''}${bytes ? `, ~${Math.round(bytes / 1024)} KiB` : ''})`,
        target: { site: run.url, page: l.page, audit: id, group: meta.group },
        evidence: {
          headings: [{ key: 'audit', label: 'audit' }, { key: 'score', label: 'score' }, { key: 'savingsMs', label: 'est. savings, ms' }, { key: 'savingsKiB', label: 'est. savings, KiB' }, { key: 'lcp', label: 'lab LCP, ms' }, { key: 'rumLcp', label: 'users p75 LCP, ms' }, ...(detail ? [{ key: 'detail', label: 'where' }] : [])],
          rows: [{ audit: id, score: a.score, savingsMs: Math.round(ms ?? 0), savingsKiB: Number(((bytes ?? 0) / 1024).toFixed(1)), lcp: Math.round(run.metrics.largestContentfulPaint ?? 0), rumLcp: l.rumP75LcpMs === undefined ? '—' : Math.round(l.rumP75LcpMs), ...(detail ? { detail } : {}) }],
        },
        impact: ms
          ? { metric: 'page load (LCP)', estimate: Math.round(ms), unit: 'ms', derivedFrom: `Lighthouse ${run.lighthouseVersion}'s estimate in the representative of ${l.runs} ${run.preset} runs at ${run.fetchTime}; ${stake}` }
          : { metric: 'bytes transferred', estimate: Math.round((bytes ?? 0) / 1024), unit: 'KiB', derivedFrom: `Lighthouse ${run.lighthouseVersion}'s estimate in the representative of ${l.runs} ${run.preset} runs at ${run.fetchTime}; ${stake}` },
      });
    }
    return out;
  },
};
