// Connection-pool saturation: requests wait for a database connection (acquire wait, pending
// requests) → a pool size that covers the connections in use plus the queue, within the database's
// max_connections shared by every instance.
import type { Analyzer } from './types.js';

export const poolSaturation: Analyzer<{ waitP95Ms: number }> = {
  meta: { id: 'pool-saturation', title: 'Connection-pool saturation', description: 'Requests queue for a database connection: the pool is too small for the concurrency (or connections are held too long).', requires: ['runtime'] },
  defaults: { waitP95Ms: { value: 5, source: 'an idle pool hands out a connection in well under a millisecond; a p95 wait of 5 ms means a queue' } },
  async analyze(inputs, o) {
    const pools = inputs.runtime!.pools;
    if (pools.length === 0) return { notApplicable: 'no pool measurements (instrumentPg reports db.client.connection.*)' };
    return pools
      .filter((p) => p.waitP95Ms >= o.waitP95Ms && p.pendingMax > 0)
      .map((p) => {
        const size = Math.ceil(p.usedMax + p.pendingMax);
        return {
          severity: p.waitP95Ms >= 10 * o.waitP95Ms ? ('critical' as const) : ('warning' as const),
          title: `${p.service} pool ${p.pool}: p95 wait ${p.waitP95Ms.toFixed(1)} ms for a connection, up to ${p.pendingMax} queued — size ${size}`,
          target: { service: p.service, pool: p.pool, size: String(size) },
          evidence: { headings: [{ key: 'wait', label: 'acquire wait p95 (ms)' }, { key: 'used', label: 'most in use' }, { key: 'pending', label: 'most queued' }], rows: [{ wait: Number(p.waitP95Ms.toFixed(1)), used: p.usedMax, pending: p.pendingMax }] },
          impact: { metric: 'acquire wait', estimate: Number(p.waitP95Ms.toFixed(1)), unit: 'ms', derivedFrom: `p95 of db.client.connection.wait_time; the size is the most connections in use (${p.usedMax}) plus the most requests queued (${p.pendingMax}) in the window — keep instances × size under max_connections` },
        };
      });
  },
};
