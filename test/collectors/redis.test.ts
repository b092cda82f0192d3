import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { Redis } from 'ioredis';
import { parseInfo, RedisCollector, recordRedis } from '../../src/collectors/redis.js';
import { Recorder } from '../../src/sdk/recorder.js';
import { redisOrSkip } from '../helpers.js';

const { url, skip } = await redisOrSkip();

test('INFO parsing skips sections and blank lines', () => {
  assert.deepEqual(parseInfo('# Stats\r\nkeyspace_hits:5\r\nkeyspace_misses:1\r\n\r\n# Memory\r\nused_memory:1024\r\n'), { keyspace_hits: '5', keyspace_misses: '1', used_memory: '1024' });
});

test('hit ratio over the interval comes from real hits and misses', { skip }, async () => {
  const redis = new Redis(url!);
  const key = `perf-test-${crypto.randomBytes(4).toString('hex')}`;
  try {
    const collector = new RedisCollector(redis);
    const first = await collector.collect();
    assert.equal(first.intervalHitRatio, undefined, 'no interval yet');
    await redis.set(key, 'v');
    for (let i = 0; i < 3; i++) await redis.get(key); // 3 hits
    await redis.get(`${key}-missing`); // 1 miss
    const second = await collector.collect();
    // other clients of a shared Redis may add to the counters; ours alone give 0.75
    assert.ok(second.hits - first.hits >= 3 && second.misses - first.misses >= 1);
    if (second.hits - first.hits === 3 && second.misses - first.misses === 1) assert.equal(second.intervalHitRatio, 0.75);
    assert.ok(second.usedMemoryBytes > 0);
    assert.ok(second.connectedClients >= 1);
    assert.match(second.version, /^\d+\.\d+/);
    const recorder = new Recorder({ onWarning: () => {} });
    recordRedis(second, recorder);
    const points = recorder.collect();
    assert.equal(points.find((p) => p.metric === 'redis.keyspace.hit_ratio')?.last, second.intervalHitRatio);
    assert.equal(points.find((p) => p.metric === 'redis.memory.used')?.last, second.usedMemoryBytes);
  } finally {
    await redis.del(key);
    redis.disconnect();
  }
});
