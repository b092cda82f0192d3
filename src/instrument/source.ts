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

/** Express's route template once its router matched: a mounted router's baseUrl plus the route path. */
export function expressRoute(req: ExpressRequest): string | undefined {
  const path = req.route?.path;
  return path === undefined ? undefined : (req.baseUrl ?? '') + String(path);
}
