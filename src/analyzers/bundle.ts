// JavaScript that blocks rendering or is larger than the page needs at first.
import type { Analyzer } from './types.js';
import { FETCH_ONLY } from './site.js';

export const bundle: Analyzer<{ maxKiB: number }> = {
  meta: { id: 'bundle', title: 'Render-blocking and oversized JavaScript', description: 'Scripts in <head> without defer/async/module, and entry scripts larger than the budget (split them).', requires: ['site'] },
  defaults: { maxKiB: { value: 170, source: 'web.dev\'s "Performance budgets 101": about 170 KB of compressed JavaScript for a fast first load on a mid-range phone' } },
  async analyze(inputs, o) {
    const scripts = inputs.site!.resources.filter((r) => r.kind === 'script');
    if (scripts.length === 0) return { notApplicable: 'the page loads no scripts' };
    const blocking = scripts.filter((r) => r.attributes.inHead === 'true' && !('defer' in r.attributes) && !('async' in r.attributes) && r.attributes.type !== 'module');
    const large = scripts.filter((r) => r.bytes / 1024 > o.maxKiB);
    const flagged = [...new Set([...blocking, ...large])];
    if (flagged.length === 0) return [];
    const kib = flagged.reduce((s, r) => s + r.bytes, 0) / 1024;
    return [
      {
        severity: blocking.length && large.length ? 'critical' : 'warning',
        title: `${flagged.length} script${flagged.length > 1 ? 's' : ''}: ${blocking.length ? 'render-blocking' : ''}${blocking.length && large.length ? ' and ' : ''}${large.length ? `over ${o.maxKiB} KiB` : ''}${FETCH_ONLY}`,
        target: { site: inputs.site!.url, mode: 'fetch-only' },
        evidence: { headings: [{ key: 'url', label: 'URL' }, { key: 'kib', label: 'KiB (as sent)' }, { key: 'blocking', label: 'render-blocking' }], rows: flagged.map((r) => ({ url: r.url, kib: Number((r.bytes / 1024).toFixed(0)), blocking: blocking.includes(r) ? 'yes' : 'no' })) },
        impact: { metric: 'JavaScript before first render', estimate: Math.round(kib), unit: 'KiB', derivedFrom: 'the sizes of the flagged scripts as sent' },
      },
    ];
  },
};
