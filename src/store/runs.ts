// Load-test runs as both backends store them: samples as little-endian float32, JSON for the rest.
import type { LoadTestRun } from './store.js';

export function encodeSamples(samples: number[]): Buffer {
  const b = Buffer.alloc(samples.length * 4);
  samples.forEach((v, i) => b.writeFloatLE(v, i * 4));
  return b;
}

export function decodeSamples(b: Buffer | Uint8Array | null): number[] {
  if (!b) return [];
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const out = new Array<number>(buf.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = buf.readFloatLE(i * 4);
  return out;
}

export type RunDbRow = { id: string; scenario: string; profile: string; target: string; started_at: number | string; finished_at: number | string; passed: number | boolean; git_revision: string | null; environment: string | object; result: string | object; samples?: Buffer | null };

export function runFromDb(r: RunDbRow): LoadTestRun {
  const json = (v: string | object) => (typeof v === 'string' ? JSON.parse(v) : v);
  return {
    id: r.id,
    scenario: r.scenario,
    profile: r.profile,
    target: r.target,
    startedAt: Number(r.started_at),
    finishedAt: Number(r.finished_at),
    passed: r.passed === true || r.passed === 1,
    gitRevision: r.git_revision ?? undefined,
    environment: json(r.environment),
    result: json(r.result),
    samples: decodeSamples(r.samples ?? null),
  };
}

export const runLimit = (n: number | undefined) => Math.min(1000, Math.max(1, Math.floor(n ?? 50)));
