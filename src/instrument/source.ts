// What every instrumentation takes: a Recorder, or a PerformanceService (its recorder, and its
// tracer when tracing is on), plus an explicit tracer that wins.
import type { IncomingMessage } from 'node:http';
import type { Recorder } from '../sdk/recorder.js';
import type { PerformanceService } from '../sdk/performance-service.js';
import type { Tracer } from '../sdk/tracing.js';

export type Source = Recorder | PerformanceService;

export const recorderOf = (s: Source): Recorder => ('recorder' in s ? s.recorder : s);

export const tracerOf = (s: Source, explicit?: Tracer): Tracer | undefined => explicit ?? ('tracer' in s ? s.tracer : undefined);

/** A request as Express leaves it: the matched route, the mount path, the URL before routers cut it. */
export type ExpressRequest = IncomingMessage & { baseUrl?: string; originalUrl?: string; route?: { path?: unknown } };

/**
 * `o[key]`, read without V8's inline caches: Express gives every request and response a hidden
 * class of its own (its prototype swap), so a property access on one misses those caches every time
 * and falls back to a runtime lookup (~350 ns); Reflect.get looks the key up in the object's own
 * layout directly (~20 ns, bench/own-property.ts; docs/decisions.md). Own properties, inherited ones
 * and accessors read as they would with `o[key]`.
 */
export const read = Reflect.get as <T extends object, K extends keyof T & string>(o: T, key: K) => T[K];

/**
 * Express's route template once its router matched: the mount paths of the routers and sub-apps
 * it is in, plus the route path. req.baseUrl is the part of the URL the mount paths matched —
 * "/shops/42" under app.use('/shops/:shop', router) — so a base is turned back into its mount
 * paths' templates once and kept (mountTemplates); a base without parameters is its own template.
 */
export function expressRoute(req: ExpressRequest): string | undefined {
  const path = read(req, 'route')?.path;
  if (path === undefined) return undefined;
  const base = read(req, 'baseUrl');
  if (!base) return String(path);
  let template = mountTemplates.get(base);
  if (template === undefined) {
    template = mountTemplate(req, base);
    if (mountTemplates.size < MOUNT_CACHE) mountTemplates.set(base, template);
  }
  return template + String(path);
}

/** base URL → the mount paths' templates, for every app in the process (bounded: a base with parameter values is one entry per value). */
const mountTemplates = new Map<string, string>();
const MOUNT_CACHE = 4096;

/** What Express's router layers hold that we read (Express 4's and 5's routers differ). */
export interface ExpressLayer {
  handle?: { stack?: unknown } | ((...args: never[]) => unknown);
  name?: string;
  route?: unknown;
  /** Express 5 (router 2): the pattern(s) the layer was made from, and a matcher for each */
  rawPath?: unknown;
  matchers?: ((path: string) => { path: string } | false)[];
  /** Express 5: mounted at "/", matching every path */
  slash?: boolean;
  /** Express 4: the pattern's regexp (fast_slash: mounted at "/") and its parameters' names */
  regexp?: RegExp & { fast_slash?: boolean };
  keys?: { name: string | number }[];
}

/** An Express app's router — Express 4 keeps it in app._router (app.router throws there), Express 5 in app.router — or undefined for anything else. */
export function expressRouter(app: unknown): { stack: ExpressLayer[] } | undefined {
  if (typeof app !== 'function') return undefined;
  const router = ('_router' in app ? app._router : (app as { router?: unknown }).router) as { stack?: unknown } | undefined;
  return Array.isArray(router?.stack) ? (router as { stack: ExpressLayer[] }) : undefined;
}

/** A layer mounted at "/", matching every path (Express 5: slash; Express 4: its regexp's fast_slash). */
export const mountedAtRoot = (layer: ExpressLayer): boolean => layer.slash === true || layer.regexp?.fast_slash === true;

const withoutTrailingSlash = (path: string): string => (path.endsWith('/') ? path.slice(0, -1) : path);

function mountTemplate(req: ExpressRequest, base: string): string {
  try {
    // the apps from the outermost down to the one answering (req.app while it answers): a sub-app
    // mounted with app.use knows its parent, and its mount layer in the parent is a bare function
    const apps: unknown[] = [];
    for (let app = (req as { app?: unknown }).app; typeof app === 'function' && apps.length < MAX_DEPTH; app = (app as { parent?: unknown }).parent) apps.unshift(app);
    const router = expressRouter(apps[0]);
    return (router && templateIn(router.stack, base, apps, 1, 0)) || base;
  } catch {
    return base;
  }
}

const MAX_DEPTH = 8;

/**
 * The templates of the mount paths — router within router, and into `apps[next]` through a
 * sub-app's mount layer — that together match all of `url`.
 */
function templateIn(stack: ExpressLayer[], url: string, apps: unknown[], next: number, depth: number): string | undefined {
  if (depth > MAX_DEPTH) return undefined;
  for (const layer of stack) {
    if (layer.route !== undefined) continue;
    const router = (layer.handle as { stack?: unknown } | undefined)?.stack;
    const subApp = !Array.isArray(router) && typeof layer.handle === 'function' && layer.handle.name === 'mounted_app' ? expressRouter(apps[next]) : undefined;
    const inner = Array.isArray(router) ? (router as ExpressLayer[]) : subApp?.stack;
    if (inner === undefined) continue; // middleware that is no router
    const m = matchMount(layer, url);
    if (!m) continue;
    const rest = url.slice(m.matched.length);
    const t = rest === '' ? '' : templateIn(inner, rest, apps, subApp ? next + 1 : next, depth + 1);
    if (t !== undefined) return m.template + t;
  }
  return undefined;
}

/** What of `url` a mount layer matches, and that part's template; the matchers used do not change the layer. */
function matchMount(layer: ExpressLayer, url: string): { matched: string; template: string } | undefined {
  if (mountedAtRoot(layer)) return { matched: '', template: '' };
  if (Array.isArray(layer.matchers)) {
    for (let i = 0; i < layer.matchers.length; i++) {
      const r = layer.matchers[i](url);
      if (!r) continue;
      const raw = Array.isArray(layer.rawPath) ? layer.rawPath[i] : layer.rawPath;
      const matched = withoutTrailingSlash(r.path);
      return { matched, template: typeof raw === 'string' ? withoutTrailingSlash(raw) : matched };
    }
    return undefined;
  }
  if (layer.regexp instanceof RegExp) {
    const m = layer.regexp.exec(url);
    if (!m) return undefined;
    const matched = withoutTrailingSlash(m[0]);
    // each parameter's value back to its name, segment by segment
    const values = new Map((layer.keys ?? []).map((k, i) => [m[i + 1], `:${k.name}`]));
    return { matched, template: matched.split('/').map((seg) => (seg && values.get(seg)) || seg).join('/') };
  }
  return undefined;
}
