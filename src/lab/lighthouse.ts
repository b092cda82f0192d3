// Lab measurements of a page with Lighthouse 12 (Node 20; 13 needs Node 22) on the system's Chromium
// through chrome-launcher, as Lighthouse CI runs them: N runs per URL, the representative run picked
// the way Lighthouse's own computeMedianRun does (closest to the median FCP and TTI), each run kept
// as a compact record (category scores, the metrics, every audit's score and numeric value, the
// resource summary) rather than the 1–2 MB report. lighthouse and chrome-launcher are optional peer
// dependencies: loaded here, on first use, with a clear message when they are not installed.
import fs from 'node:fs';
import { PerfError } from '../errors.js';
import { median } from '../query/stats.js';

export type Preset = 'mobile' | 'desktop';

export interface AuditResult {
  score: number | null;
  numericValue?: number;
  /** Lighthouse's estimated savings, where the audit states them (ms, bytes) */
  savingsMs?: number;
  savingsBytes?: number;
  /** rows of the audit's table (ITEM_AUDITS only): what a fix needs — URLs, wasted bytes, the element */
  items?: AuditItem[];
  /** rows in the audit's table (every audit with one: errors-in-console, …) */
  itemCount?: number;
}

/** One row of an audit's table, scalars only; a DOM node becomes its snippet and selector. */
export type AuditItem = Record<string, string | number>;

/**
 * The audits whose rows the front-end fixes read (optimize/frontend.ts): which images are shown how
 * much smaller, which lie below the fold, which scripts block rendering, the LCP element. At most
 * ITEM_ROWS rows each, strings cut to ITEM_CHARS, so a stored run stays in the tens of KiB (a report is 1–2 MB).
 */
const ITEM_AUDITS = new Set(['uses-responsive-images', 'modern-image-formats', 'offscreen-images', 'unsized-images', 'render-blocking-resources', 'unused-javascript', 'uses-long-cache-ttl', 'largest-contentful-paint-element', 'prioritize-lcp-image', 'lcp-lazy-loaded', 'total-byte-weight']);
const ITEM_ROWS = 20;
const ITEM_CHARS = 200;

export interface LighthouseRun {
  url: string;
  finalUrl: string;
  fetchTime: string;
  preset: Preset;
  lighthouseVersion: string;
  /** category id → score 0–1 */
  categories: Record<string, number | null>;
  /** ms, except cumulativeLayoutShift */
  metrics: { firstContentfulPaint?: number; largestContentfulPaint?: number; totalBlockingTime?: number; cumulativeLayoutShift?: number; speedIndex?: number; interactive?: number };
  audits: Record<string, AuditResult>;
  /** resource-summary: per type (total, script, image, …) the request count and transfer size */
  resources: Record<string, { count: number; size: number }>;
}

export interface RunOptions {
  runs: number;
  preset: Preset;
  chromePath?: string;
  onProgress?: (m: string) => void;
}

const CHROME_FLAGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];

export function chromePath(explicit?: string): string {
  const p = explicit ?? process.env.CHROME_PATH ?? '/usr/bin/chromium';
  if (!fs.existsSync(p)) throw new PerfError('PERF_ERR_USAGE', `Chromium not found at ${p}: install it (Debian/Ubuntu: apt-get install -y chromium) or pass --chrome-path / set CHROME_PATH`);
  return p;
}

async function optional<T>(name: string): Promise<T> {
  try {
    return (await import(name)) as T;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') throw new PerfError('PERF_ERR_USAGE', `${name} is not installed: npm install lighthouse@12 chrome-launcher (optional peer dependencies of solemate-performance)`);
    throw e;
  }
}

/** One Chromium for many Lighthouse runs; `onlyAudits` limits what is gathered (a verdict that reads four audits need not wait for the rest). */
export interface LighthouseSession {
  run(url: string): Promise<LighthouseRun>;
  close(): Promise<void>;
}

export async function openLighthouse(o: { preset: Preset; chromePath?: string; onlyAudits?: string[] }): Promise<LighthouseSession> {
  const path = chromePath(o.chromePath);
  const lighthouse = (await optional<{ default: (url: string, flags: object, config?: object) => Promise<{ lhr: Lhr } | undefined> }>('lighthouse')).default;
  const launcher = await optional<{ launch: (o: object) => Promise<{ port: number; kill: () => Promise<void> }> }>('chrome-launcher');
  const config = o.preset === 'desktop' ? (await optional<{ default: object }>('lighthouse/core/config/desktop-config.js')).default : undefined;
  const chrome = await launcher.launch({ chromePath: path, chromeFlags: CHROME_FLAGS });
  return {
    async run(url) {
      const r = await lighthouse(url, { port: chrome.port, output: 'json', logLevel: 'error', ...(o.onlyAudits ? { onlyAudits: o.onlyAudits } : {}) }, config);
      if (!r) throw new PerfError('PERF_ERR_LIGHTHOUSE', `Lighthouse returned no result for ${url}`);
      if (r.lhr.runtimeError) throw new PerfError('PERF_ERR_LIGHTHOUSE', `Lighthouse could not load ${url}: ${r.lhr.runtimeError.code} ${r.lhr.runtimeError.message}`);
      return compact(r.lhr, url, o.preset);
    },
    close: () => chrome.kill(),
  };
}

/** `runs` Lighthouse runs of each URL, one Chromium for all, in order. */
export async function runLighthouse(urls: string[], o: RunOptions): Promise<LighthouseRun[]> {
  const session = await openLighthouse(o);
  const out: LighthouseRun[] = [];
  try {
    for (const url of urls) {
      for (let i = 0; i < o.runs; i++) {
        o.onProgress?.(`${url}: run ${i + 1} of ${o.runs}`);
        out.push(await session.run(url));
      }
    }
  } finally {
    await session.close();
  }
  return out;
}

interface Lhr {
  requestedUrl?: string;
  finalDisplayedUrl?: string;
  fetchTime: string;
  lighthouseVersion: string;
  runtimeError?: { code: string; message: string };
  categories: Record<string, { score: number | null }>;
  audits: Record<string, { score: number | null; numericValue?: number; details?: { type?: string; items?: Record<string, unknown>[]; overallSavingsMs?: number; overallSavingsBytes?: number }; metricSavings?: Record<string, number> }>;
}

const METRICS = { firstContentfulPaint: 'first-contentful-paint', largestContentfulPaint: 'largest-contentful-paint', totalBlockingTime: 'total-blocking-time', cumulativeLayoutShift: 'cumulative-layout-shift', speedIndex: 'speed-index', interactive: 'interactive' } as const;

export function compact(lhr: Lhr, url: string, preset: Preset): LighthouseRun {
  const audits: Record<string, AuditResult> = {};
  for (const [id, a] of Object.entries(lhr.audits)) {
    const r: AuditResult = { score: a.score };
    if (typeof a.numericValue === 'number') r.numericValue = a.numericValue;
    if (typeof a.details?.overallSavingsMs === 'number') r.savingsMs = a.details.overallSavingsMs;
    if (typeof a.details?.overallSavingsBytes === 'number') r.savingsBytes = a.details.overallSavingsBytes;
    const rows = tableRows(a.details);
    if (rows.length) r.itemCount = rows.length;
    if (rows.length && ITEM_AUDITS.has(id)) r.items = rows.slice(0, ITEM_ROWS).map(itemOf);
    audits[id] = r;
  }
  const metrics: LighthouseRun['metrics'] = {};
  for (const [k, id] of Object.entries(METRICS)) {
    const v = lhr.audits[id]?.numericValue;
    if (typeof v === 'number') metrics[k as keyof typeof METRICS] = v;
  }
  const resources: LighthouseRun['resources'] = {};
  for (const item of lhr.audits['resource-summary']?.details?.items ?? []) {
    if (typeof item.resourceType === 'string') resources[item.resourceType] = { count: Number(item.requestCount ?? 0), size: Number(item.transferSize ?? 0) };
  }
  const categories: Record<string, number | null> = {};
  for (const [id, c] of Object.entries(lhr.categories)) categories[id] = c.score;
  return { url, finalUrl: lhr.finalDisplayedUrl ?? lhr.requestedUrl ?? url, fetchTime: lhr.fetchTime, preset, lighthouseVersion: lhr.lighthouseVersion, categories, metrics, audits, resources };
}

type Details = NonNullable<Lhr['audits'][string]['details']>;

/** An audit's table rows; a 'list' (largest-contentful-paint-element) holds tables in turn: the first one's rows. */
function tableRows(d: Details | undefined): Record<string, unknown>[] {
  if (!d?.items) return [];
  if (d.type === 'list') return tableRows(d.items.find((i) => Array.isArray(i.items)) as Details | undefined);
  return d.items;
}

function itemOf(row: Record<string, unknown>): AuditItem {
  const out: AuditItem = {};
  const cut = (v: string) => (v.length > ITEM_CHARS ? v.slice(0, ITEM_CHARS) : v);
  for (const [k, v] of Object.entries(row)) {
    if (typeof v === 'number' && Number.isFinite(v)) out[k] = v;
    else if (typeof v === 'string') out[k] = cut(v);
    else if (v && typeof v === 'object' && (v as { type?: string }).type === 'node') {
      const n = v as { snippet?: string; selector?: string };
      if (n.snippet) out.snippet = cut(n.snippet);
      if (n.selector) out.selector = cut(n.selector);
    } else if (v && typeof v === 'object' && (v as { type?: string }).type === 'subitems') {
      // unused-javascript with a source map: the bundle's modules with the most unused bytes
      const modules = ((v as { items?: Record<string, unknown>[] }).items ?? []).filter((m) => typeof m.source === 'string' && typeof m.sourceWastedBytes === 'number');
      if (modules.length) out.modules = cut(modules.map((m) => `${String(m.source)} ${Math.round(Number(m.sourceWastedBytes) / 1024)}/${Math.round(Number(m.sourceBytes ?? 0) / 1024)} KiB unused`).join('; '));
    }
  }
  return out;
}

/**
 * The representative run, as Lighthouse's computeMedianRun (core/lib/median-run.js) picks it: the
 * run closest to the median first contentful paint and time to interactive, by the sum of squared
 * relative distances; runs without either are left out.
 */
export function medianRun(runs: LighthouseRun[]): LighthouseRun {
  const ok = runs.filter((r) => r.metrics.firstContentfulPaint !== undefined && r.metrics.interactive !== undefined);
  if (ok.length === 0) return runs[0];
  const mid = (xs: number[]) => median([...xs].sort((a, b) => a - b));
  const fcp = mid(ok.map((r) => r.metrics.firstContentfulPaint!));
  const tti = mid(ok.map((r) => r.metrics.interactive!));
  const distance = (r: LighthouseRun) => ((r.metrics.firstContentfulPaint! - fcp) / fcp) ** 2 + ((r.metrics.interactive! - tti) / tti) ** 2;
  return ok.reduce((best, r) => (distance(r) < distance(best) ? r : best));
}
