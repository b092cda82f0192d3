// The storefront's JavaScript. With the unsplitBundle fault the page loads one big bundle,
// render-blocking in <head>: the app plus a "vendor" part (carousel, reviews, recommendations,
// analytics) that most visits never use. Split, the page gets a small deferred entry and loads the
// reviews chunk only when the visitor opens the reviews.
import crypto from 'node:crypto';

function vendorModule(name: string, kb: number): string {
  // realistic-looking, non-repeating code so it neither compresses to nothing nor minifies away
  const lines: string[] = [`// ${name}`, `const ${name} = (() => {`, '  const table = ['];
  let i = 0;
  while (lines.join('\n').length < kb * 1024) {
    const h = crypto.createHash('sha1').update(`${name}:${i++}`).digest('hex');
    lines.push(`    { id: ${i}, key: '${h}', weight: ${(parseInt(h.slice(0, 6), 16) % 997) / 997}, label: '${name}-${h.slice(0, 8)}' },`);
  }
  lines.push('  ];', '  return { size: table.length, pick: (k) => table.find((r) => r.key.startsWith(k)) };', '})();');
  return lines.join('\n');
}

const APP = `
// SoleMate storefront
document.addEventListener('click', async (e) => {
  const add = e.target.closest('[data-add]');
  if (add) {
    e.preventDefault();
    await fetch('/api/cart/items', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ productId: Number(add.dataset.add), size: 42, quantity: 1 }) });
    document.querySelector('#cart-count').textContent = String(Number(document.querySelector('#cart-count').textContent) + 1);
  }
  const reviews = e.target.closest('[data-reviews]');
  if (reviews) {
    e.preventDefault();
    const mod = window.SoleMateReviews ?? (await import('/assets/reviews.js')).default;
    reviews.textContent = mod.summary(Number(reviews.dataset.reviews));
  }
});
window.SoleMateReady = true;
`;

const REVIEWS = (exportStyle: 'esm' | 'global') => `
${vendorModule('reviews', 120)}
const api = { summary: (id) => '★★★★☆ ' + (reviews.size % (id + 7)) + ' reviews' };
${exportStyle === 'esm' ? 'export default api;' : 'window.SoleMateReviews = api;'}
`;

export interface Bundle {
  path: string;
  body: string;
}

/** The files to serve, and the tags the page uses to load them. */
export function buildAssets(split: boolean): { files: Map<string, string>; headTags: string; bodyTags: string } {
  const files = new Map<string, string>();
  if (!split) {
    const big = [vendorModule('carousel', 180), vendorModule('recommendations', 220), vendorModule('analytics', 160), REVIEWS('global'), APP].join('\n');
    files.set('/assets/bundle.js', big);
    return { files, headTags: '<script src="/assets/bundle.js"></script>', bodyTags: '' };
  }
  files.set('/assets/app.js', APP);
  files.set('/assets/reviews.js', REVIEWS('esm'));
  return { files, headTags: '<script type="module" src="/assets/app.js" defer></script>', bodyTags: '' };
}
