// Load tests send traffic only where they are allowed to: loopback by default, plus hosts listed in
// loadtest.allowedHosts (config) or --allow-host. Anything else is refused before a request is sent.
import net from 'node:net';
import { PerfError } from '../errors.js';

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (net.isIPv4(h)) return h.startsWith('127.');
  if (net.isIPv6(h)) return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(h);
  return false;
}

/** The target as a URL, or PERF_ERR_USAGE saying why it is refused. */
export function checkTarget(target: string, allowedHosts: string[] = []): URL {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    throw new PerfError('PERF_ERR_USAGE', `target "${target}" is not a URL (e.g. http://127.0.0.1:3000)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new PerfError('PERF_ERR_USAGE', `target ${target}: only http and https are supported`);
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (!isLoopback(host) && !allowedHosts.map((h) => h.toLowerCase()).includes(host)) {
    throw new PerfError('PERF_ERR_USAGE', `refusing to load ${url.host}: load tests only go to loopback unless the host is in loadtest.allowedHosts or given with --allow-host`);
  }
  return url;
}
