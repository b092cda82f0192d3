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

const ownDescriptor = Object.getOwnPropertyDescriptor;

/**
 * `o[key]` for a property the object holds itself, read without a property lookup: Express gives
 * every request and response a hidden class of its own (its prototype swap), so a lookup on one
 * misses V8's caches every time — ~300 ns; reading the own property's descriptor costs a fifth of
 * that (docs/decisions.md). Anything else (an accessor, a property of the prototype) is looked up.
 */
export function own<T extends object, K extends keyof T & string>(o: T, key: K): T[K] {
  const d = ownDescriptor(o, key);
  return d !== undefined && 'value' in d ? (d.value as T[K]) : o[key];
}

/**
 * Express's route template once its router matched: a mounted router's mount path plus the route
 * path. req.baseUrl is the part of the URL the mount paths matched — "/shops/42" under
 * app.use('/shops/:shop', router) — so a base is turned back into its mount paths' templates once
 * and kept (mountTemplates); a base without parameters is its own template.
 */
export function expressRoute(req: ExpressRequest): string | undefined {
  const path = own(req, 'route')?.path;
  if (path === undefined) return undefined;
  const base = own(req, 'baseUrl');
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

interface Layer {
  handle?: { stack?: unknown };
  route?: unknown;
  /** Express 5 (router 2): the pattern(s) the layer was made from, and a matcher for each */
  rawPath?: unknown;
  matchers?: ((path: string) => { path: string } | false)[];
  slash?: boolean;
  /** Express 4: the pattern's regexp and its parameters' names */
  regexp?: RegExp & { fast_slash?: boolean };
  keys?: { name: string | number }[];
}

function mountTemplate(req: ExpressRequest, base: string): string {
  type App = ((...args: never[]) => unknown) & { _router?: { stack?: unknown }; router?: { stack?: unknown } };
  const app = (req as { app?: unknown }).app as App | undefined;
  try {
    // Express 4 keeps its router in app._router (app.router throws there); Express 5 in app.router
    const stack = typeof app === 'function' ? ('_router' in app ? app._router : app.router)?.stack : undefined;
    return (Array.isArray(stack) && templateIn(stack as Layer[], base, 0)) || base;
  } catch {
    return base;
  }
}

/** The templates of the mount paths, router within router, that together match all of `url`. */
function templateIn(stack: Layer[], url: string, depth: number): string | undefined {
  if (depth > 8) return undefined;
  for (const layer of stack) {
    const inner = layer.handle?.stack;
    if (layer.route !== undefined || !Array.isArray(inner)) continue; // routes, and middleware that is no router
    const m = matchMount(layer, url);
    if (!m) continue;
    const rest = url.slice(m.matched.length);
    const t = rest === '' ? '' : templateIn(inner as Layer[], rest, depth + 1);
    if (t !== undefined) return m.template + t;
  }
  return undefined;
}

/** What of `url` a mount layer matches, and that part's template; the matchers used do not change the layer. */
function matchMount(layer: Layer, url: string): { matched: string; template: string } | undefined {
  if (layer.slash || layer.regexp?.fast_slash) return { matched: '', template: '' };
  if (Array.isArray(layer.matchers)) {
    for (let i = 0; i < layer.matchers.length; i++) {
      const r = layer.matchers[i](url);
      if (!r) continue;
      const raw = Array.isArray(layer.rawPath) ? layer.rawPath[i] : layer.rawPath;
      const matched = r.path.endsWith('/') ? r.path.slice(0, -1) : r.path;
      return { matched, template: typeof raw === 'string' ? raw.replace(/\/$/, '') : matched };
    }
    return undefined;
  }
  if (layer.regexp instanceof RegExp) {
    const m = layer.regexp.exec(url);
    if (!m) return undefined;
    const matched = m[0].endsWith('/') ? m[0].slice(0, -1) : m[0];
    // each parameter's value back to its name, segment by segment
    const values = new Map((layer.keys ?? []).map((k, i) => [m[i + 1], `:${k.name}`]));
    return { matched, template: matched.split('/').map((seg) => (seg && values.get(seg)) || seg).join('/') };
  }
  return undefined;
}
