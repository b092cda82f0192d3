// solemate-performance/browser: real-user monitoring. Reports the Core Web Vitals (LCP, INP, CLS)
// and FCP and TTFB, as the web-vitals library (attribution build) measures them, plus the page's
// navigation timing (load event end: the PRD's "page load time", bytes transferred, resources), to
// the performance server's POST /v1/rum. One beacon per page view each time the page is hidden
// (visibilitychange, pagehide), with what changed since the last: navigator.sendBeacon survives
// the page's unload, and its text/plain body needs no CORS preflight.
import { onCLS, onFCP, onINP, onLCP, onTTFB, type MetricWithAttribution } from 'web-vitals/attribution';
import type { RumBeacon, RumMetric, RumNavigation } from '../../src/model/rum.js';

export interface RumOptions {
  /** the server's beacon URL, e.g. https://perf.example.com/v1/rum */
  endpoint: string;
  /** the site's name, stored as service.name (default "web") */
  service?: string;
  /** share of page views reported, 0–1 (default 1) */
  sampleRate?: number;
}

/** Starts reporting this page view. Returns a function that sends what is pending now (tests, single-page apps). */
export function startRum(options: RumOptions): () => void {
  if (Math.random() >= (options.sampleRate ?? 1)) return () => {};
  const pending = new Map<string, RumMetric>();
  let navSent = false;
  const keep = (m: MetricWithAttribution) => pending.set(m.id, slim(m));
  const send = () => {
    const nav = navSent ? undefined : navigation();
    if (pending.size === 0 && !nav) return;
    const beacon: RumBeacon = { v: 1, service: options.service, url: location.href, metrics: [...pending.values()], device: device() };
    if (nav) beacon.nav = nav;
    if (navigator.sendBeacon(options.endpoint, JSON.stringify(beacon))) {
      pending.clear();
      if (nav) navSent = true;
    }
  };
  for (const on of [onCLS, onFCP, onINP, onLCP, onTTFB]) on(keep);
  addEventListener('visibilitychange', () => document.visibilityState === 'hidden' && send());
  addEventListener('pagehide', send);
  return send;
}

/** The metric as web-vitals reports it, its attribution's plain fields only (the DOM entries stay here). */
function slim(m: MetricWithAttribution): RumMetric {
  const attribution: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(m.attribution ?? {})) if (typeof v === 'string' || typeof v === 'number') attribution[k] = v;
  return { name: m.name, value: m.value, rating: m.rating, delta: m.delta, id: m.id, navigationType: m.navigationType, attribution };
}

/** Navigation timing once the load event has ended; undefined before. */
function navigation(): RumNavigation | undefined {
  const n = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming | undefined;
  if (!n || n.loadEventEnd <= 0) return undefined;
  const resources = performance.getEntriesByType('resource') as PerformanceResourceTiming[];
  let bytes = n.transferSize;
  for (const r of resources) bytes += r.transferSize;
  return { loadTime: n.loadEventEnd, domContentLoaded: n.domContentLoadedEventEnd, transferBytes: bytes, resources: resources.length };
}

function device(): RumBeacon['device'] {
  const c = (navigator as Navigator & { connection?: { effectiveType?: string } }).connection;
  return { viewport: innerWidth, connection: c?.effectiveType, userAgent: navigator.userAgent };
}
