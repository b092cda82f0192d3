// The real-user beacon: what solemate-performance/browser sends to POST /v1/rum and the server
// checks (src/ingest/rum.ts). JSON; a text/plain body (navigator.sendBeacon's) is read as JSON.

/** The web-vitals library's Metric, its attribution's plain fields only. */
export interface RumMetric {
  name: string;
  value: number;
  rating?: string;
  delta?: number;
  id?: string;
  navigationType?: string;
  attribution?: Record<string, string | number>;
}

/** The page's navigation timing, sent once per page view after the load event. */
export interface RumNavigation {
  /** loadEventEnd, ms from the navigation's start: the page load time */
  loadTime: number;
  domContentLoaded?: number;
  /** the document's and its resources' transferSize, bytes (0 for what came from the cache) */
  transferBytes?: number;
  resources?: number;
}

export interface RumBeacon {
  /** format version: 1 */
  v: number;
  service?: string;
  /** the page's URL (location.href): the server keeps only its template */
  url: string;
  metrics: RumMetric[];
  nav?: RumNavigation;
  device?: { viewport?: number; connection?: string; userAgent?: string };
}

/** The vitals, their metric names in the store, units, and Google's good / poor thresholds (web.dev/articles/vitals). */
export const WEB_VITALS = {
  LCP: { metric: 'browser.web_vitals.lcp', unit: 'ms', good: 2500, poor: 4000 },
  INP: { metric: 'browser.web_vitals.inp', unit: 'ms', good: 200, poor: 500 },
  CLS: { metric: 'browser.web_vitals.cls', unit: '1', good: 0.1, poor: 0.25 },
  FCP: { metric: 'browser.web_vitals.fcp', unit: 'ms', good: 1800, poor: 3000 },
  TTFB: { metric: 'browser.web_vitals.ttfb', unit: 'ms', good: 800, poor: 1800 },
} as const;
export type WebVitalName = keyof typeof WEB_VITALS;

/** The page-load figures of the navigation timing, stored beside the vitals. */
export const PAGE_METRICS = {
  loadTime: { metric: 'browser.page.load_time', unit: 'ms' },
  transferBytes: { metric: 'browser.page.transfer_size', unit: 'By' },
  resources: { metric: 'browser.page.resources', unit: '{resource}' },
} as const;

/**
 * The vitals whose attribution names a cause, and the field that names it (web-vitals' attribution
 * build): the LCP element, the slowest interaction's target, the largest layout shift's source.
 * Stored as the tag `target` of browser.web_vitals.attributed (and LCP's resource URL as `resource`).
 */
export const ATTRIBUTION_TARGET: Partial<Record<WebVitalName, string>> = { LCP: 'target', INP: 'interactionTarget', CLS: 'largestShiftTarget' };
export const ATTRIBUTED_METRIC = 'browser.web_vitals.attributed';
