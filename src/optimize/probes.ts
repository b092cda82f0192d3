// What the workflow asks the live app over HTTP: its responses hashed (the same answers before and
// after?), the assets' Cache-Control (what a repeat view downloads again), and whether it serves the
// new settings yet.
import crypto from 'node:crypto';
import { PerfError } from '../errors.js';
import type { OptimizationRecord } from './tracking.js';

/** GETs a URL: the response, its body's length and SHA-256. */
async function fetchHashed(url: URL | string, headers: Record<string, string> = {}): Promise<{ res: Response; bytes: number; hash: string }> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
  const body = Buffer.from(await res.arrayBuffer());
  return { res, bytes: body.length, hash: crypto.createHash('sha256').update(body).digest('hex') };
}

export async function snapshot(target: string, paths: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const p of paths) {
    const { res, hash } = await fetchHashed(new URL(p, target), { 'accept-encoding': 'br, gzip' });
    out.set(p, `${res.status} ${String(res.headers.get('content-type')).split(';')[0]} ${hash}`);
  }
  return out;
}

export interface AssetState {
  bytes: number;
  maxAge: number;
  hash: string;
}

export async function assets(urls: string[]): Promise<Map<string, AssetState>> {
  const out = new Map<string, AssetState>();
  for (const u of urls) {
    const { res, bytes, hash } = await fetchHashed(u);
    const cc = res.headers.get('cache-control') ?? '';
    const maxAge = /no-store|no-cache/i.test(cc) ? 0 : Number(/max-age=(\d+)/i.exec(cc)?.[1] ?? 0);
    out.set(u, { bytes, maxAge, hash });
  }
  return out;
}

/** What a returning visitor within `withinSeconds` downloads again: assets not fresh by their Cache-Control. */
export async function repeatView(urls: string[], before: Map<string, AssetState>, withinSeconds: number): Promise<NonNullable<OptimizationRecord['repeatView']>> {
  const after = await assets(urls);
  let beforeBytes = 0;
  let afterBytes = 0;
  const stale: string[] = [];
  for (const u of urls) {
    const b = before.get(u)!;
    const a = after.get(u)!;
    if (b.maxAge < withinSeconds) beforeBytes += b.bytes;
    if (a.maxAge < withinSeconds || a.hash !== b.hash) {
      afterBytes += a.bytes;
      stale.push(u);
    }
  }
  return { urls: urls.length, beforeBytes, afterBytes, stale };
}

/** Waits until the app answers with settings at least `version` (x-solemate-settings). */
export async function waitForSettings(target: string, path: string, version: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(new URL(path, target), { signal: AbortSignal.timeout(5000) }).catch(() => undefined);
    await res?.arrayBuffer().catch(() => {});
    const seen = Number(res?.headers.get('x-solemate-settings') ?? -1);
    if (seen >= version) return;
    if (Date.now() > until) throw new PerfError('PERF_ERR_TIMEOUT', `the service at ${target} did not pick up settings version ${version} within ${timeoutMs / 1000} s (is optimizationMiddleware mounted and pointed at this performance server?)`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
