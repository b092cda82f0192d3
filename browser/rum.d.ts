// solemate-performance/browser: real-user Web Vitals to the performance server (docs/frontend.md).
export interface RumOptions {
  /** the server's beacon URL, e.g. https://perf.example.com/v1/rum */
  endpoint: string;
  /** the site's name, stored as service.name (default "web") */
  service?: string;
  /** share of page views reported, 0–1 (default 1) */
  sampleRate?: number;
}

/**
 * Starts reporting this page view: LCP, INP, CLS, FCP and TTFB (web-vitals, attribution build) and the
 * navigation timing, in a beacon each time the page is hidden. Returns a function that sends what is
 * pending now.
 */
export declare function startRum(options: RumOptions): () => void;
