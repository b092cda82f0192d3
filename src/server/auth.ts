// Who may do what. Tokens are optional and independent: a viewer token makes every read of the API
// (and so the dashboard's data) need a token; an admin token (default: the ingest token) makes every
// change need it. Admins can read; viewers cannot change anything. The ingest token may also read
// the optimization settings, which the app's middleware polls.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { PerformanceConfig } from '../config/schema.js';
import { readToken } from '../config/load.js';
import { PerfError } from '../errors.js';
import { tokenMatches } from './ingest.js';

export type Role = 'admin' | 'viewer' | 'ingest' | 'anonymous';

export interface Access {
  ingest?: string;
  viewer?: string;
  admin?: string;
}

export function accessFrom(config: PerformanceConfig, env: NodeJS.ProcessEnv = process.env): Access {
  const ingest = readToken('ingest', config, env);
  return { ingest, viewer: readToken('viewer', config, env), admin: readToken('admin', config, env) ?? ingest };
}

export function roleOf(req: FastifyRequest, access: Access): Role {
  const h = req.headers.authorization;
  if (access.admin !== undefined && tokenMatches(h, access.admin)) return 'admin';
  if (access.viewer !== undefined && tokenMatches(h, access.viewer)) return 'viewer';
  if (access.ingest !== undefined && tokenMatches(h, access.ingest)) return 'ingest';
  // nothing configured for a level means everyone holds it
  return 'anonymous';
}

const READS = new Set(['GET', 'HEAD']);
const SETTINGS = '/api/optimizations/settings';

/** Throws 401/403 unless the request's role may do what it asks. */
export function authorize(req: FastifyRequest, access: Access): Role {
  const role = roleOf(req, access);
  const path = req.url.split('?')[0];
  if (READS.has(req.method)) {
    if (access.viewer === undefined || role === 'admin' || role === 'viewer') return role;
    if (role === 'ingest' && path === SETTINGS) return role;
    throw new PerfError('PERF_ERR_UNAUTHORIZED', 'reading needs a token: send "Authorization: Bearer <viewer or admin token>"');
  }
  if (access.admin === undefined || role === 'admin') return role;
  if (role === 'viewer') throw new PerfError('PERF_ERR_FORBIDDEN', 'viewers cannot change anything: use an admin token');
  throw new PerfError('PERF_ERR_UNAUTHORIZED', 'missing or wrong token: send "Authorization: Bearer <admin token>"');
}

/** GET /api/session: the caller's role and what it may do (the dashboard asks for a token from this). */
export interface Session {
  role: Role;
  canRead: boolean;
  canWrite: boolean;
  readNeedsToken: boolean;
  writeNeedsToken: boolean;
}

/**
 * Guards every /api route (a hook on the root instance, so every plugin's routes are covered);
 * GET /api/session says which role a token has and what needs one.
 */
export function installAuth(app: FastifyInstance, access: Access): void {
  // a callback hook, not an async one: it runs on every request (ingest and beacons too), and a
  // promise per request cost /v1/rum a quarter of its rate (bench/rum.ts)
  app.addHook('onRequest', (req, _reply, done) => {
    if (!req.url.startsWith('/api/') || req.url.startsWith('/api/session')) return done();
    try {
      authorize(req, access);
    } catch (e) {
      return done(e as Error);
    }
    done();
  });
  app.get('/api/session', async (req): Promise<Session> => {
    const role = roleOf(req, access);
    const canRead = access.viewer === undefined || role === 'admin' || role === 'viewer';
    const canWrite = access.admin === undefined || role === 'admin';
    return { role, canRead, canWrite, readNeedsToken: access.viewer !== undefined, writeNeedsToken: access.admin !== undefined };
  });
}
