// What a stored Lighthouse run keeps of a report (src/lab/lighthouse.ts compact): scores, metrics,
// savings, and for the audits the front-end fixes read, their rows — a DOM node as its snippet and
// selector, a source map's modules as one line, the LCP element out of its list — capped in rows
// and characters; for the others only how many rows they had.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compact } from '../../src/lab/lighthouse.js';

const node = (snippet: string) => ({ type: 'node', snippet, selector: 'main > img', lhId: 'x', boundingRect: { top: 0 } });

const lhr = {
  requestedUrl: 'http://shop.test/p/1',
  finalDisplayedUrl: 'http://shop.test/p/1',
  fetchTime: '2026-12-08T00:00:00.000Z',
  lighthouseVersion: '12.8.2',
  categories: { performance: { score: 0.41 } },
  audits: {
    'largest-contentful-paint': { score: 0, numericValue: 5200 },
    'uses-responsive-images': { score: 0, numericValue: 1650, details: { type: 'opportunity', overallSavingsMs: 1650, overallSavingsBytes: 9e5, items: Array.from({ length: 30 }, (_, i) => ({ node: node(`<img src="/i/${i}.png">`), url: `http://shop.test/i/${i}.png`, totalBytes: 1e5, wastedBytes: 8e4, wastedPercent: 80 })) } },
    'unused-javascript': { score: 0, details: { type: 'opportunity', items: [{ url: 'http://shop.test/b.js', totalBytes: 7e5, wastedBytes: 5.6e5, subItems: { type: 'subitems', items: [{ source: 'src/carousel.js', sourceBytes: 194_560, sourceWastedBytes: 184_320 }] } }] } },
    'largest-contentful-paint-element': { score: 0, details: { type: 'list', items: [{ type: 'table', headings: [], items: [{ node: node(`<img src="/i/0.png" alt="${'x'.repeat(400)}">`) }] }, { type: 'table', items: [{ phase: 'TTFB', timing: 120 }] }] } },
    'errors-in-console': { score: 0, details: { type: 'table', items: [{ source: 'exception', description: 'boom' }, { source: 'exception', description: 'bang' }] } },
    'resource-summary': { score: null, details: { type: 'table', items: [{ resourceType: 'total', requestCount: 12, transferSize: 3e6 }] } },
  },
};

test('compact keeps the fixes\' audit rows, capped, and only a count of the others', () => {
  const r = compact(lhr as never, 'http://shop.test/p/1', 'mobile');
  assert.equal(r.metrics.largestContentfulPaint, 5200);
  assert.equal(r.categories.performance, 0.41);
  const responsive = r.audits['uses-responsive-images'];
  assert.equal(responsive.savingsBytes, 9e5);
  assert.equal(responsive.itemCount, 30);
  assert.equal(responsive.items!.length, 20, 'at most 20 rows kept');
  assert.deepEqual(responsive.items![3], { snippet: '<img src="/i/3.png">', selector: 'main > img', url: 'http://shop.test/i/3.png', totalBytes: 1e5, wastedBytes: 8e4, wastedPercent: 80 });
  assert.equal(r.audits['unused-javascript'].items![0].modules, 'src/carousel.js 180/190 KiB unused');
  const lcp = r.audits['largest-contentful-paint-element'].items!;
  assert.equal(lcp.length, 1, 'the first table of the list: the element');
  assert.equal(String(lcp[0].snippet).length, 200, 'strings cut to 200 characters');
  assert.equal(r.audits['errors-in-console'].itemCount, 2);
  assert.equal(r.audits['errors-in-console'].items, undefined, 'rows of audits no fix reads are not kept');
  assert.deepEqual(r.resources.total, { count: 12, size: 3e6 });
});
