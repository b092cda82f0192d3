// Optimization actions: each has a pre-check (does it still apply?), apply, a switch used by the
// interleaved before/after measurement, and a rollback that undoes only what this product created.
// Indexes are built CONCURRENTLY under a name of ours (solemate_…); runtime settings are entries
// in the settings document owned by the optimization's id.
import crypto from 'node:crypto';
import { PerfError } from '../errors.js';
import type { Store } from '../store/store.js';
import type { CacheHeadersParams, CompressionParams, ImageVariantsParams, PageRewriteParams, PoolSizeParams, RouteCacheParams, SettingEntry } from '../model/settings.js';
import { readSettings, updateSettings } from './settings.js';

export type ActionSpec =
  | { type: 'create-index'; table: string; columns: string[]; include?: string[] }
  | { type: 'route-cache'; params: RouteCacheParams }
  | { type: 'compression'; params: CompressionParams }
  /** urls: assets to verify the headers on (the workflow's repeat-view check) */
  | { type: 'cache-headers'; params: CacheHeadersParams; urls?: string[] }
  | { type: 'pool-size'; params: PoolSizeParams }
  /** pages: the page URLs its before/after Lighthouse runs load; probe: an image URL it must change */
  | { type: 'image-variants'; params: ImageVariantsParams; pages: string[]; probe?: string }
  | { type: 'page-rewrite'; params: PageRewriteParams; pages: string[] };

/** Actions judged by Lighthouse runs of pages (LCP and bytes), not by a load test. */
export const PAGE_LOAD_ACTIONS: readonly ActionSpec['type'][] = ['image-variants', 'page-rewrite'];

export interface Db {
  query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
}

export interface ActionContext {
  store: Store;
  /** the service's database (index actions) */
  db?: Db;
}

/** What apply did, recorded so that rollback (also after a crash) undoes exactly that. */
export type Undo = { index: string } | { setting: string };

const IDENT = /^[a-z_][a-z0-9_$]*$/i;
const quoteIdent = (name: string) => {
  if (!IDENT.test(name)) throw new PerfError('PERF_ERR_USAGE', `not a plain SQL identifier: ${JSON.stringify(name)}`);
  return `"${name}"`;
};
const quoteTable = (t: string) => t.split('.').map(quoteIdent).join('.');

/** solemate_<table>_<columns>_<hash>, within PostgreSQL's 63 characters */
export function indexName(spec: { table: string; columns: string[]; include?: string[] }): string {
  const hash = crypto.createHash('sha1').update(JSON.stringify([spec.table, spec.columns, spec.include ?? []])).digest('hex').slice(0, 6);
  const base = `solemate_${spec.table.replace(/^.*\./, '')}_${spec.columns.join('_')}`.toLowerCase().slice(0, 55);
  return `${base}_${hash}`;
}

export function describeAction(a: ActionSpec): string {
  switch (a.type) {
    case 'create-index':
      return `CREATE INDEX CONCURRENTLY ON ${a.table} (${a.columns.join(', ')})${a.include?.length ? ` INCLUDE (${a.include.join(', ')})` : ''}`;
    case 'route-cache':
      return `cache ${a.params.method} ${a.params.route} for ${a.params.ttlMs / 1000} s (${a.params.backend}${a.params.invalidatedBy.length ? `, emptied by ${a.params.invalidatedBy.join(', ')}` : ''})`;
    case 'compression':
      return `compress responses ≥ ${a.params.threshold} bytes (${a.params.brotli ? 'brotli or gzip' : 'gzip'})`;
    case 'cache-headers':
      return `Cache-Control: public, max-age=${a.params.maxAgeSeconds}${a.params.immutable ? ', immutable' : ''} on ${a.params.paths.join(', ')}`;
    case 'pool-size':
      return `pool ${a.params.pool}: max ${a.params.max} connections`;
    case 'image-variants':
      return `images ${a.params.route}: at most ${a.params.width} px wide${a.params.formats.length ? `, ${a.params.formats.join(' or ').toUpperCase()} where the browser accepts it` : ''}`;
    case 'page-rewrite': {
      const p = a.params;
      const parts = [
        p.lazyFrom !== undefined ? `loading="lazy" on images from the ${p.lazyFrom + 1}. on` : '',
        p.priorityImage !== undefined ? `fetchpriority="high" on image ${p.priorityImage + 1}` : '',
        p.deferScripts?.length ? `defer ${p.deferScripts.join(', ')}` : '',
        p.imageSizes?.length ? `width/height on ${p.imageSizes.map((x) => x.src).join(', ')}` : '',
      ].filter(Boolean);
      return `page ${p.route}: ${parts.join('; ')}`;
    }
  }
}

/** Why the action no longer applies (skip it), or undefined. */
export async function precheck(a: ActionSpec, ctx: ActionContext): Promise<string | undefined> {
  if (a.type === 'create-index') {
    if (!ctx.db) return 'no database connection given (--database-url)';
    const [schema, table] = a.table.includes('.') ? a.table.split('.') : ['public', a.table];
    const cols = (await ctx.db.query('SELECT attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped', [schema, table])).rows.map((r) => String(r.attname));
    if (cols.length === 0) return `table ${a.table} does not exist`;
    const missing = [...a.columns, ...(a.include ?? [])].filter((c) => !cols.includes(c));
    if (missing.length) return `${a.table} has no column ${missing.join(', ')}`;
    // an existing valid index that starts with the same columns serves the same queries
    const existing = await ctx.db.query(
      `SELECT i.relname AS name, array_to_string(array(SELECT a.attname FROM unnest(x.indkey) WITH ORDINALITY k(n, o) JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.n ORDER BY k.o), ',') AS columns
         FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE n.nspname = $1 AND t.relname = $2 AND x.indisvalid`,
      [schema, table],
    );
    const wanted = a.columns.join(',');
    const same = existing.rows.find((r) => String(r.columns) === wanted || String(r.columns).startsWith(`${wanted},`));
    if (same) return `index ${String(same.name)} on ${a.table} (${String(same.columns).replace(/,/g, ', ')}) already exists`;
    return undefined;
  }
  const settings = await readSettings(ctx.store);
  const byRoute = a.type === 'route-cache' || a.type === 'image-variants' || a.type === 'page-rewrite';
  // page rewrites of one route compose: a twin is one that makes the same kind of edit
  const edits = (p: object) => Object.keys(p).filter((k) => k !== 'route').sort().join();
  const twin = settings.entries.find(
    (e) => e.type === a.type && (!byRoute || (e.params as { route: string }).route === (a.params as { route: string }).route) && (a.type !== 'pool-size' || (e.params as PoolSizeParams).pool === a.params.pool) && (a.type !== 'page-rewrite' || edits(e.params) === edits(a.params)),
  );
  if (twin) return `already applied by optimization ${twin.id}`;
  return undefined;
}

async function createIndex(db: Db, a: Extract<ActionSpec, { type: 'create-index' }>, name: string): Promise<void> {
  try {
    await db.query(`CREATE INDEX CONCURRENTLY IF NOT EXISTS ${quoteIdent(name)} ON ${quoteTable(a.table)} (${a.columns.map(quoteIdent).join(', ')})${a.include?.length ? ` INCLUDE (${a.include.map(quoteIdent).join(', ')})` : ''}`);
    await db.query(`ANALYZE ${quoteTable(a.table)}`);
  } catch (e) {
    // a failed concurrent build leaves an invalid index behind: ours, by name, so drop it
    await db.query(`DROP INDEX CONCURRENTLY IF EXISTS ${quoteIdent(name)}`).catch(() => {});
    throw e;
  }
}

async function dropIndex(db: Db, name: string): Promise<void> {
  if (!name.startsWith('solemate_')) throw new PerfError('PERF_ERR_USAGE', `refusing to drop ${name}: not an index this product created`);
  await db.query(`DROP INDEX CONCURRENTLY IF EXISTS ${quoteIdent(name)}`);
}

/** Applies the action for optimization `id`; the returned Undo is recorded before anything else happens. */
export function undoOf(a: ActionSpec, id: string): Undo {
  return a.type === 'create-index' ? { index: indexName(a) } : { setting: id };
}

export async function apply(a: ActionSpec, id: string, ctx: ActionContext): Promise<void> {
  if (a.type === 'create-index') {
    if (!ctx.db) throw new PerfError('PERF_ERR_USAGE', 'an index needs the database (--database-url)');
    return createIndex(ctx.db, a, indexName(a));
  }
  await updateSettings(ctx.store, (entries) => [...entries.filter((e) => e.id !== id), { id, type: a.type, enabled: true, params: a.params } as SettingEntry]);
}

/** Turns an applied action off or on again without forgetting it (the interleaved measurement). */
export async function setActive(a: ActionSpec, id: string, on: boolean, ctx: ActionContext): Promise<void> {
  if (a.type === 'create-index') {
    if (on) return createIndex(ctx.db!, a, indexName(a));
    return dropIndex(ctx.db!, indexName(a));
  }
  await updateSettings(ctx.store, (entries) => entries.map((e) => (e.id === id ? { ...e, enabled: on } : e)));
}

export async function rollback(undo: Undo, ctx: ActionContext): Promise<void> {
  if ('index' in undo) {
    if (!ctx.db) throw new PerfError('PERF_ERR_USAGE', `dropping ${undo.index} needs the database (--database-url)`);
    return dropIndex(ctx.db, undo.index);
  }
  const current = await readSettings(ctx.store);
  if (current.entries.some((e) => e.id === undo.setting)) await updateSettings(ctx.store, (entries) => entries.filter((e) => e.id !== undo.setting));
}

/** The settings version after the last change (the workflow waits until the app serves it). */
export async function settingsVersion(store: Store): Promise<number> {
  return (await readSettings(store)).version;
}
