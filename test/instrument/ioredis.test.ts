// ioredis instrumentation and the cache helper against a real Redis.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { Redis } from 'ioredis';
import { Cache, instrumentIoredis } from '../../src/instrument/ioredis.js';
import { Recorder } from '../../src/sdk/recorder.js';
import { Tracer } from '../../src/sdk/tracing.js';
import { redisOrSkip } from '../helpers.js';

const { url, skip } = await redisOrSkip();
const recorder = new Recorder({ onWarning: () => {} });
const tracer = new Tracer({ recorder });
const prefix = `perf-test-${crypto.randomBytes(4).toString('hex')}`;
let redis: Redis;
let undo = () => {};

before(() => {
  if (skip) return;
  undo = instrumentIoredis(Redis, recorder, { tracer });
  redis = new Redis(url!, { lazyConnect: true, maxRetriesPerRequest: 1 });
});
after(async () => {
  undo();
  if (redis) {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  }
});

test('commands are timed by name; results and errors are the app’s', { skip }, async () => {
  await redis.connect();
  recorder.collect();
  assert.equal(await redis.set(`${prefix}:a`, '1'), 'OK');
  assert.equal(await redis.get(`${prefix}:a`), '1');
  assert.equal(await redis.get(`${prefix}:missing`), null);
  await redis.lpush(`${prefix}:list`, 'x');
  const err = await redis.incr(`${prefix}:list`).catch((e) => e);
  assert.match(String(err?.message), /WRONGTYPE/);
  const pipe = await redis.pipeline().set(`${prefix}:b`, '2').get(`${prefix}:b`).exec();
  assert.deepEqual(pipe, [[null, 'OK'], [null, '2']]);
  const points = recorder.collect().filter((p) => p.metric === 'db.client.operation.duration' && p.attributes['db.system.name'] === 'redis');
  const by = (op: string, failed = false) => points.find((p) => p.attributes['db.operation.name'] === op && (p.attributes['error.type'] !== undefined) === failed);
  assert.equal(by('GET')?.count, 3);
  assert.equal(by('SET')?.count, 2);
  assert.equal(by('INCR', true)?.attributes['error.type'], 'ReplyError');
  assert.ok(by('GET')!.max < 1, 'seconds');
});

test('inside a request each command is a span and counts as a cache call', { skip }, async () => {
  const ctx = tracer.startRequest('HTTP');
  await tracer.run(ctx, async () => {
    await redis.get(`${prefix}:a`);
    await redis.get(`${prefix}:a`);
  });
  assert.equal(ctx.cacheCalls, 2);
  const spans = ctx.spans.filter((s) => s.kind === 'client');
  assert.deepEqual(spans.map((s) => s.name), ['GET', 'GET']);
  assert.ok(spans.every((s) => s.parentSpanId === ctx.root.spanId && s.duration >= 0));
});

test('cache helper: miss loads and stores, hit does not load; counted per key prefix', { skip }, async () => {
  recorder.collect();
  const cache = new Cache(redis, recorder, { ttlMs: 10_000 });
  let loads = 0;
  const load = async () => (++loads, { facets: [1, 2, 3] });
  const key = `${prefix}:facets:shoes`;
  assert.deepEqual(await cache.getOrLoad(key, load), { facets: [1, 2, 3] });
  assert.deepEqual(await cache.getOrLoad(key, load), { facets: [1, 2, 3] });
  assert.deepEqual(await cache.getOrLoad(key, load), { facets: [1, 2, 3] });
  assert.equal(loads, 1);
  const ttl = await redis.pttl(key);
  assert.ok(ttl > 0 && ttl <= 10_000);
  const counts = recorder.collect().filter((p) => p.metric === 'solemate.cache.requests');
  const c = (r: string) => counts.find((p) => p.attributes['cache.result'] === r && p.attributes['cache.prefix'] === prefix)?.sum;
  assert.equal(c('hit'), 2);
  assert.equal(c('miss'), 1);
});

test('cache helper: a Redis that fails is a miss, never an error', async () => {
  const broken = { get: async () => Promise.reject(new Error('down')), set: async () => Promise.reject(new Error('down')) };
  const cache = new Cache(broken, recorder);
  assert.equal(await cache.getOrLoad('x:y', async () => 7), 7);
  const counts = recorder.collect().filter((p) => p.metric === 'solemate.cache.requests');
  assert.equal(counts.find((p) => p.attributes['cache.result'] === 'error')?.sum, 1);
});
