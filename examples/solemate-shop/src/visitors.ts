// Real page views for the demo: headless Chromium (playwright-core, the system's Chromium) walks
// the shop — the storefront, a product page, a click on "Add to cart" — so the shop's pages send
// their Web Vitals to the performance server and its Frontend page has data. Without Chromium it
// says how to get it and does nothing else.
import fs from 'node:fs';

export interface Visitors {
  /** page views so far */
  readonly views: number;
  stop(): Promise<void>;
}

export async function startVisitors(o: { shopUrl: string; products: number; everyMs?: number; chromePath?: string; log: (m: string) => void }): Promise<Visitors> {
  const chrome = o.chromePath ?? process.env.CHROME_PATH ?? '/usr/bin/chromium';
  if (!fs.existsSync(chrome)) {
    o.log(`no Chromium at ${chrome}: no real page views, so the Frontend page stays empty (apt-get install -y chromium, or set CHROME_PATH)`);
    return { views: 0, stop: async () => {} };
  }
  const { chromium } = await import('playwright-core');
  // launch() gives the browser a fresh profile of its own, removed when it closes
  const browser = await chromium.launch({ executablePath: chrome, args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'] }).catch((e: Error) => {
    o.log(`cannot start Chromium (${e.message.split('\n')[0]}): no real page views`);
    return undefined;
  });
  if (!browser) return { views: 0, stop: async () => {} };
  let views = 0;
  let stopped = false;
  const sizes = [
    { width: 390, height: 844 },
    { width: 1280, height: 800 },
  ];
  const walk = async () => {
    while (!stopped) {
      const page = await browser.newPage({ viewport: sizes[views % sizes.length] });
      try {
        await page.goto(`${o.shopUrl}/`, { waitUntil: 'load' });
        views++;
        const id = 1 + Math.floor(Math.random() * Math.min(o.products, 2000));
        // leaving a page hides it: its beacon goes out
        await page.goto(`${o.shopUrl}/products/${id}`, { waitUntil: 'load' });
        views++;
        await page.click('a[data-add]', { timeout: 2000 }).catch(() => {});
        await page.waitForTimeout(500);
        await page.goto('about:blank');
      } catch (e) {
        if (!stopped) o.log(`visitors: ${(e as Error).message.split('\n')[0]}`);
      } finally {
        await page.close().catch(() => {});
      }
      await new Promise((r) => setTimeout(r, o.everyMs ?? 15_000));
    }
  };
  const walking = walk();
  return {
    get views() {
      return views;
    },
    async stop() {
      stopped = true;
      await browser.close().catch(() => {});
      await walking.catch(() => {});
    },
  };
}
