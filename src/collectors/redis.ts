// Redis collector: INFO (stats, memory, clients) turned into a report and gauges. The hit ratio is
// given both since the server started and since the previous collection, which is the one that
// moves when a cache gets better or worse.

export interface RedisInfoSource {
  info(): Promise<string>;
}

export interface RedisReport {
  at: string;
  version: string;
  hits: number;
  misses: number;
  /** hits / (hits + misses) since the server started */
  hitRatio: number | undefined;
  /** the same over the interval since the previous collect() of this collector */
  intervalHitRatio: number | undefined;
  usedMemoryBytes: number;
  maxMemoryBytes: number;
  evictedKeys: number;
  expiredKeys: number;
  connectedClients: number;
  opsPerSecond: number;
}

export function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    if (!line || line.startsWith('#')) continue;
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

export class RedisCollector {
  private last: { hits: number; misses: number } | undefined;
  constructor(private readonly redis: RedisInfoSource) {}

  async collect(): Promise<RedisReport> {
    const info = parseInfo(await this.redis.info());
    const n = (k: string) => Number(info[k] ?? 0);
    const hits = n('keyspace_hits');
    const misses = n('keyspace_misses');
    let intervalHitRatio: number | undefined;
    if (this.last && hits >= this.last.hits && misses >= this.last.misses) {
      const dh = hits - this.last.hits;
      const dm = misses - this.last.misses;
      intervalHitRatio = dh + dm > 0 ? dh / (dh + dm) : undefined;
    }
    this.last = { hits, misses };
    return {
      at: new Date().toISOString(),
      version: info.redis_version ?? 'unknown',
      hits,
      misses,
      hitRatio: hits + misses > 0 ? hits / (hits + misses) : undefined,
      intervalHitRatio,
      usedMemoryBytes: n('used_memory'),
      maxMemoryBytes: n('maxmemory'),
      evictedKeys: n('evicted_keys'),
      expiredKeys: n('expired_keys'),
      connectedClients: n('connected_clients'),
      opsPerSecond: n('instantaneous_ops_per_sec'),
    };
  }
}

/** Records a report as gauges (names after the OpenTelemetry Collector's redis receiver). */
export function recordRedis(report: RedisReport, recorder: { gauge(name: string, o?: { unit?: string }): { record(v: number, tags?: Record<string, unknown>): void } }): void {
  const g = (name: string, unit: string, v: number | undefined) => {
    if (v !== undefined && Number.isFinite(v)) recorder.gauge(name, { unit }).record(v);
  };
  g('redis.keyspace.hit_ratio', '1', report.intervalHitRatio ?? report.hitRatio);
  g('redis.memory.used', 'By', report.usedMemoryBytes);
  g('redis.keys.evicted', '{key}', report.evictedKeys);
  g('redis.keys.expired', '{key}', report.expiredKeys);
  g('redis.clients.connected', '{client}', report.connectedClients);
  g('redis.commands.per_second', '{command}/s', report.opsPerSecond);
}
