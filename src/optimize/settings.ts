// Reading and changing the runtime settings document (src/model/settings.ts) in the store. The
// optimizer writes it (one document, versioned); the performance server serves it at
// GET /api/optimizations/settings; the app polls that, so applying or rolling back needs no
// redeploy. Each entry belongs to the optimization that created it, and only that optimization
// removes it.
import type { OptimizationSettings, SettingEntry } from '../model/settings.js';
import type { Store } from '../store/store.js';

const KIND = 'optimization-settings';
const ID = 'current';

export async function readSettings(store: Store): Promise<OptimizationSettings> {
  const doc = (await store.listDocs(KIND)).find((d) => d.id === ID);
  return doc ? (doc.body as unknown as OptimizationSettings) : { version: 0, entries: [] };
}

/** Changes the settings (read, change, write with the next version). Callers hold the optimizer lock. */
export async function updateSettings(store: Store, change: (entries: SettingEntry[]) => SettingEntry[]): Promise<OptimizationSettings> {
  const current = await readSettings(store);
  const next: OptimizationSettings = { version: current.version + 1, entries: change(current.entries.map((e) => ({ ...e }))) };
  await store.putDoc(KIND, ID, next as unknown as Record<string, unknown>);
  return next;
}
