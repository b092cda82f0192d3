// Shared test helpers: real services only. PostgreSQL tests get a fresh database each and skip,
// saying why, when no server answers.
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { validateConfig } from '../src/config/load.js';
import type { PerformanceConfig, PerformanceConfigInput } from '../src/config/schema.js';

export const PG_ADMIN_URL = process.env.SOLEMATE_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export function tmpDir(prefix = 'solemate-perf-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function testConfig(input: PerformanceConfigInput = {}): PerformanceConfig {
  return validateConfig({ ...input, server: { port: 0, ...input.server } });
}

/** Creates a throw-away database; returns its URL and a drop function, or the reason it cannot. */
export async function freshDatabase(): Promise<{ url: string; drop: () => Promise<void> } | { skip: string }> {
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
  } catch (e) {
    return { skip: `PostgreSQL not reachable at ${PG_ADMIN_URL} (${(e as Error).message}); start it with "pg_ctlcluster --skip-systemctl-redirect 15 main start" or set SOLEMATE_TEST_PG_URL` };
  }
  const name = `perf_test_${crypto.randomBytes(6).toString('hex')}`;
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: PG_ADMIN_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

export const REDIS_URL = process.env.SOLEMATE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** The test Redis, or why it cannot be had (the tests that need it skip with that reason). */
export async function redisOrSkip(): Promise<{ url?: string; skip: string | false }> {
  const net = await import('node:net');
  const u = new URL(REDIS_URL);
  const ok = await new Promise<boolean>((resolve) => {
    const s = net.connect(Number(u.port || 6379), u.hostname);
    s.setTimeout(2000);
    s.once('connect', () => (s.end(), resolve(true)));
    s.once('error', () => resolve(false));
    s.once('timeout', () => (s.destroy(), resolve(false)));
  });
  return ok ? { url: REDIS_URL, skip: false } : { skip: `Redis not reachable at ${REDIS_URL}; start it with "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no" or set SOLEMATE_TEST_REDIS_URL` };
}

/** Log-normal samples (Box–Muller), deterministic for a given seed. */
export function logNormal(n: number, mu: number, sigma: number, seed = 42): number[] {
  let s = seed >>> 0;
  const rand = () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return (s + 0.5) / 4294967296;
  };
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = Math.exp(mu + sigma * Math.sqrt(-2 * Math.log(rand())) * Math.cos(2 * Math.PI * rand()));
  return out;
}

/** Nearest-rank quantile of sorted values: the definition our histogram estimates. */
export function exactQuantile(sorted: number[], q: number): number {
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)];
}

/** JSON bodies in tests are read loosely; the assertions check their shape. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;
export async function json(res: Response | Promise<Response>): Promise<Json> {
  return (await res).json();
}

/**
 * Writes GETs back to back on one connection (HTTP/1.1 pipelining) and reads until as many answers
 * came and the text ends with the last one's body; returns what was read.
 */
export async function pipelined(url: string, paths: string[], lastBody: string): Promise<string> {
  return exchange(url, paths.map((p) => `GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`).join(''), lastBody, paths.length);
}

/** Writes `raw` on a new connection to `url`; resolves with what came back once `responses` answers have and the last ends with `lastBody`. */
export async function exchange(url: string, raw: string, lastBody: string, responses: number): Promise<string> {
  const socket = net.connect(Number(new URL(url).port), '127.0.0.1');
  socket.write(raw);
  let text = '';
  for await (const chunk of socket) {
    text += chunk;
    if ((text.match(/HTTP\/1\.1 \d{3}/g) ?? []).length === responses && text.endsWith(lastBody)) break;
  }
  socket.destroy();
  return text;
}
