// GET and POST helpers for the commands that talk to a running server.
import { PerfError } from '../errors.js';

export const DEFAULT_URL = 'http://127.0.0.1:4318';

export async function getJson<T>(base: string, path: string, params: Record<string, string | undefined>): Promise<T> {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, v);
  const url = `${base.replace(/\/+$/, '')}${path}${q.size ? `?${q}` : ''}`;
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(15_000) });
  } catch (e) {
    throw new PerfError('PERF_ERR_UNREACHABLE', `cannot reach ${base} (${(e as Error & { cause?: { code?: string } }).cause?.code ?? (e as Error).message}). Start the server with "solemate-perf start" or pass --url.`);
  }
  const body = (await res.json().catch(() => ({}))) as T & { message?: string };
  if (!res.ok) throw new PerfError(res.status < 500 ? 'PERF_ERR_QUERY' : 'PERF_ERR_UNREACHABLE', body.message ?? `HTTP ${res.status}`);
  return body;
}

/**
 * POSTs JSON to a performance server as a change, with the admin token (else the ingest token, which
 * the server takes as admin when none is set) from `env`; `what` names the thing sent in the errors.
 */
export async function postJson<T>(base: string, path: string, body: unknown, env: NodeJS.ProcessEnv, what: string): Promise<T> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const token = env.SOLEMATE_PERF_ADMIN_TOKEN ?? env.SOLEMATE_PERF_INGEST_TOKEN;
  if (token) headers.authorization = `Bearer ${token}`;
  let res: Response;
  try {
    res = await fetch(`${base.replace(/\/+$/, '')}${path}`, { method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(15_000) });
  } catch (e) {
    throw new PerfError('PERF_ERR_UNREACHABLE', `cannot reach ${base} to store ${what} (${(e as Error & { cause?: { code?: string } }).cause?.code ?? (e as Error).message})`);
  }
  const answer = (await res.json().catch(() => ({}))) as T & { message?: string };
  if (!res.ok) throw new PerfError('PERF_ERR_UNREACHABLE', `${base} did not store ${what}: ${answer.message ?? `HTTP ${res.status}`}`);
  return answer;
}
