// A WebPageTest client (the public instance or a private one), through its documented HTTP API:
// runtest.php?f=json starts a test (API key in the `k` parameter, from the environment only),
// testStatus.php?f=json is polled until the test completes (statusCode 200; 1xx while queued or
// running; 4xx when it failed), and jsonResult.php gives the result, of which the median first view
// is kept: TTFB, start render, Speed Index, LCP, fully loaded, bytes and requests.
import { PerfError } from '../errors.js';

export interface WptOptions {
  /** the WebPageTest server, e.g. https://www.webpagetest.org */
  server: string;
  url: string;
  /** from the environment (WPT_API_KEY), never from a file or flag */
  key?: string;
  location?: string;
  runs: number;
  /** stop waiting for a test after this long */
  timeoutMs: number;
  pollMs?: number;
  onProgress?: (m: string) => void;
}

export interface WptResult {
  testId: string;
  url: string;
  location?: string;
  runs: number;
  successfulRuns: number;
  /** median first view, ms (bytes and requests as counts) */
  firstView: { ttfb?: number; startRender?: number; speedIndex?: number; largestContentfulPaint?: number; fullyLoaded?: number; bytes?: number; requests?: number };
  summaryUrl?: string;
}

interface WptAnswer<T> {
  statusCode: number;
  statusText?: string;
  data?: T;
}

async function call<T>(server: string, path: string, params: Record<string, string | undefined>): Promise<WptAnswer<T>> {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, v);
  let res: Response;
  try {
    res = await fetch(`${server.replace(/\/+$/, '')}/${path}?${q}`, { signal: AbortSignal.timeout(30_000) });
  } catch (e) {
    throw new PerfError('PERF_ERR_UNREACHABLE', `cannot reach WebPageTest at ${server} (${(e as Error & { cause?: { code?: string } }).cause?.code ?? (e as Error).message})`);
  }
  const body = (await res.json().catch(() => undefined)) as WptAnswer<T> | undefined;
  if (!body || typeof body.statusCode !== 'number') throw new PerfError('PERF_ERR_UNREACHABLE', `WebPageTest at ${server} answered ${path} with HTTP ${res.status} and no JSON status`);
  return body;
}

export async function runWebPageTest(o: WptOptions): Promise<WptResult> {
  const started = await call<{ testId: string; userUrl?: string }>(o.server, 'runtest.php', { url: o.url, f: 'json', k: o.key, location: o.location, runs: String(o.runs), fvonly: '1' });
  if (started.statusCode !== 200 || !started.data?.testId) throw new PerfError('PERF_ERR_LIGHTHOUSE', `WebPageTest did not start the test: ${started.statusCode} ${started.statusText ?? ''}`.trim() + (/key/i.test(started.statusText ?? '') ? ' (the key comes from WPT_API_KEY)' : ''));
  const testId = started.data.testId;
  const deadline = Date.now() + o.timeoutMs;
  for (;;) {
    const s = await call<unknown>(o.server, 'testStatus.php', { f: 'json', test: testId });
    if (s.statusCode === 200) break;
    if (s.statusCode >= 400) throw new PerfError('PERF_ERR_LIGHTHOUSE', `WebPageTest test ${testId} failed: ${s.statusCode} ${s.statusText ?? ''}`.trim());
    if (Date.now() > deadline) throw new PerfError('PERF_ERR_TIMEOUT', `WebPageTest test ${testId} still not complete after ${Math.round(o.timeoutMs / 1000)} s (${s.statusText ?? s.statusCode}); its result will be at ${o.server.replace(/\/+$/, '')}/jsonResult.php?test=${testId}`);
    o.onProgress?.(`${testId}: ${s.statusText ?? s.statusCode}`);
    await new Promise((r) => setTimeout(r, o.pollMs ?? 5000));
  }
  const r = await call<{ successfulFVRuns?: number; summary?: string; location?: string; median?: { firstView?: Record<string, unknown> } }>(o.server, 'jsonResult.php', { test: testId });
  const fv = r.data?.median?.firstView;
  if (r.statusCode !== 200 || !fv) throw new PerfError('PERF_ERR_LIGHTHOUSE', `WebPageTest test ${testId} has no first-view result (${r.statusCode} ${r.statusText ?? ''}; successful runs: ${r.data?.successfulFVRuns ?? 0})`);
  const n = (k: string) => (typeof fv[k] === 'number' ? (fv[k] as number) : undefined);
  return {
    testId,
    url: o.url,
    location: r.data?.location ?? o.location,
    runs: o.runs,
    successfulRuns: r.data?.successfulFVRuns ?? 0,
    firstView: { ttfb: n('TTFB'), startRender: n('render'), speedIndex: n('SpeedIndex'), largestContentfulPaint: n('chromeUserTiming.LargestContentfulPaint'), fullyLoaded: n('fullyLoaded'), bytes: n('bytesIn'), requests: n('requestsFull') },
    summaryUrl: r.data?.summary ?? started.data.userUrl,
  };
}
