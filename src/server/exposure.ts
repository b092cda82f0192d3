// Who can reach the server decides whether it may run without an admin token (DESIGN.md: "binding
// beyond loopback needs an admin token"): without one, anyone who can reach the port can approve
// optimizations, which run DDL on the application's database. createServer asks here before it opens
// anything, so `solemate-perf start` and programmatic servers get the same answer.
import net from 'node:net';
import type { PerformanceConfig } from '../config/schema.js';
import { PerfError } from '../errors.js';
import type { Access } from './auth.js';

/** 127.0.0.0/8 and ::1; BlockList also matches their IPv4-mapped form (::ffff:127.0.0.1). */
const LOOPBACK = new net.BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** True for addresses only this machine can reach: 127.0.0.0/8, ::1 and `localhost`. */
export function isLoopback(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (h === 'localhost' || h === 'localhost.') return true;
  const family = net.isIP(h);
  if (family === 4) return LOOPBACK.check(h, 'ipv4');
  if (family === 6) return LOOPBACK.check(h, 'ipv6');
  // 0.0.0.0, ::, an interface's address or a host name: other machines may reach it
  return false;
}

const HOW = 'SOLEMATE_PERF_ADMIN_TOKEN=<secret> (or server.adminTokenFile: <file holding it>)';

/**
 * Throws PERF_ERR_CONFIG when the server would listen beyond loopback and changes would need no
 * token; with server.insecure it returns the warning to show instead. Undefined when all is well.
 */
export function checkExposure(config: PerformanceConfig, access: Access): string | undefined {
  const { host, insecure } = config.server;
  // access.admin is what guards every change (auth.ts). It falls back to the ingest token, which
  // every instrumented app holds: beyond loopback that is no guard, so an admin token of its own is needed
  const guarded = access.admin !== undefined && access.admin !== access.ingest;
  if (isLoopback(host) || guarded) return undefined;
  const only = access.admin !== undefined ? ' (the ingest token is not enough: every instrumented app holds it)' : '';
  if (insecure) {
    return `server.insecure: listening on ${host || '(all addresses)'} without an admin token${only}; anyone who can reach this port can change the system (approve optimizations that run DDL on the application's database, edit alert rules, silence alerts). To require a token, set ${HOW}.`;
  }
  throw new PerfError(
    'PERF_ERR_CONFIG',
    `server.host: ${host || '(all addresses)'} is reachable beyond this machine, and without an admin token${only} anyone who can reach it could change the system (approve optimizations that run DDL on the application's database). Set ${HOW}, or bind to 127.0.0.1; on a trusted network, --insecure (server.insecure: true) starts it anyway.`,
  );
}
