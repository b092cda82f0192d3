// Lab results kept in the store's documents: Lighthouse runs (kind "lighthouse") and WebPageTest
// results (kind "webpagetest"), each with an id and the time it was stored; the newest MAX_RUNS of
// each kind are kept. The server's routes and schedule write them; the routes and the optimizer read them.
import crypto from 'node:crypto';
import type { Store } from '../store/store.js';
import type { LighthouseRun } from './lighthouse.js';

export const LIGHTHOUSE = 'lighthouse';
export const WEBPAGETEST = 'webpagetest';
/** results kept per kind; the oldest go first */
export const MAX_RUNS = 2000;

interface Stored {
  id: string;
  storedAt: number;
}

export interface StoredRun extends LighthouseRun, Stored {
  revision?: string;
  release?: string;
}

/** A kind's results, oldest first. */
export async function listStored<T extends Stored>(store: Store, kind: string): Promise<T[]> {
  return (await store.listDocs(kind)).map((d) => d.body as unknown as T).sort((a, b) => a.storedAt - b.storedAt);
}

/**
 * Stores documents under one new id — a batch (Lighthouse's runs) as `${id}-${i}`, a single result
 * as the id itself — keeping the newest MAX_RUNS of the kind.
 */
export async function putStored(store: Store, kind: string, now: number, docs: Record<string, unknown>[], batch: boolean): Promise<string> {
  const id = `${now.toString(36)}-${crypto.randomBytes(4).toString('hex')}`;
  for (const [i, d] of docs.entries()) {
    const docId = batch ? `${id}-${i}` : id;
    await store.putDoc(kind, docId, { ...d, id: docId, storedAt: now });
  }
  const kept = await listStored(store, kind);
  for (const old of kept.slice(0, Math.max(0, kept.length - MAX_RUNS))) await store.deleteDoc(kind, old.id);
  return id;
}

/** Lighthouse runs under one id, with the revision and release they belong to. */
export function storeRuns(store: Store, now: number, runs: LighthouseRun[], revision?: string, release?: string): Promise<string> {
  return putStored(store, LIGHTHOUSE, now, runs.map((r) => ({ ...r, revision, release })), true);
}
