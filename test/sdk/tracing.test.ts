import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { Recorder } from '../../src/sdk/recorder.js';
import type { TraceRecord } from '../../src/model/spans.js';
import { currentContext, endSpan, formatTraceparent, parseTraceparent, REQUEST_DB_QUERIES, REQUEST_DB_TIME_SHARE, TailSampler, Tracer } from '../../src/sdk/tracing.js';

test('traceparent: valid headers parse, invalid ones are ignored', () => {
  const tid = '4bf92f3577b34da6a3ce929d0e0e4736';
  const sid = '00f067aa0ba902b7';
  assert.deepEqual(parseTraceparent(`00-${tid}-${sid}-01`), { traceId: tid, parentSpanId: sid, sampled: true });
  assert.equal(parseTraceparent(`00-${tid}-${sid}-00`)?.sampled, false);
  assert.equal(parseTraceparent(`00-${tid.toUpperCase()}-${sid}-01`)?.traceId, tid);
  for (const bad of [undefined, 42, '', `ff-${tid}-${sid}-01`, `00-${'0'.repeat(32)}-${sid}-01`, `00-${tid}-${'0'.repeat(16)}-01`, `00-${tid}-${sid}-01-extra`, `00-${tid.slice(1)}-${sid}-01`, `00-${tid}-${sid}`]) {
    assert.equal(parseTraceparent(bad), undefined, String(bad));
  }
  // a future version may carry more fields
  assert.equal(parseTraceparent(`01-${tid}-${sid}-01-more`)?.traceId, tid);
  assert.equal(formatTraceparent(tid, sid), `00-${tid}-${sid}-01`);
});

test('tail sampler: every error, the slowest K per route per window, bounded', () => {
  const s = new TailSampler({ slowestPerRoute: 2, windowMs: 60_000, maxPerWindow: 6 });
  const t = 120_000;
  assert.equal(s.keep('/a', 10, false, t), true);
  assert.equal(s.keep('/a', 5, false, t), true);
  assert.equal(s.keep('/a', 4, false, t), false, 'faster than both kept');
  assert.equal(s.keep('/a', 3, true, t), true, 'errors always');
  assert.equal(s.keep('/a', 11, false, t), true, 'slower than the slowest two so far');
  assert.equal(s.keep('/b', 1, false, t), true, 'routes are separate');
  assert.equal(s.keep('/a', 100, false, t), true);
  assert.equal(s.keep('/a', 1000, true, t), false, 'window cap reached');
  assert.equal(s.dropped, 1);
  assert.equal(s.keep('/a', 1, false, t + 60_000), true, 'a new window starts empty');
});

test('the request context follows awaits, timers and promise chains; not other requests', async () => {
  const tracer = new Tracer({ recorder: new Recorder({ onWarning: () => {} }) });
  const seen: string[] = [];
  const serve = (name: string, delay: number) => {
    const ctx = tracer.startRequest(name);
    return tracer.run(ctx, async () => {
      await sleep(delay);
      seen.push(`${name}:${currentContext()?.root.name}`);
      await new Promise<void>((r) => setTimeout(() => (seen.push(`${name}:${currentContext()?.root.name}`), r()), delay));
      return Promise.resolve().then(() => currentContext() === ctx);
    });
  };
  const [a, b] = await Promise.all([serve('A', 5), serve('B', 1)]);
  assert.ok(a && b);
  assert.deepEqual(seen.sort(), ['A:A', 'A:A', 'B:B', 'B:B']);
  assert.equal(currentContext(), undefined, 'nothing leaks outside');
});

test('spans hang under the request, or under an internal span; trace ids continue the caller’s', async () => {
  const tracer = new Tracer({ recorder: new Recorder({ onWarning: () => {} }) });
  const caller = { t: 'a'.repeat(32), s: 'b'.repeat(16) };
  const ctx = tracer.startRequest('HTTP', formatTraceparent(caller.t, caller.s));
  assert.equal(ctx.root.traceId, caller.t);
  assert.equal(ctx.root.parentSpanId, caller.s);
  await tracer.run(ctx, async () => {
    const q = tracer.startSpan('SELECT', 'client', {});
    endSpan(q);
    await tracer.withSpan('render', async () => {
      const inner = tracer.startSpan('GET', 'client', {});
      await sleep(1);
      endSpan(inner, new TypeError('boom'));
    });
  });
  const [root, q, render, inner] = ctx.spans;
  assert.equal(q.parentSpanId, root.spanId);
  assert.equal(render.parentSpanId, root.spanId);
  assert.equal(inner.parentSpanId, render.spanId);
  assert.ok(render.duration >= inner.duration && inner.duration > 0);
  assert.equal(inner.status, 'error');
  assert.equal(inner.attributes['error.type'], 'TypeError');
  assert.equal(new Set(ctx.spans.map((s) => s.spanId)).size, 4);
  assert.equal(tracer.startSpan('outside', 'client', {}), undefined, 'no request, no span');
});

test('endRequest records queries per request and db share for every request, and hands on only sampled traces', () => {
  const recorder = new Recorder({ onWarning: () => {} });
  const kept: TraceRecord[] = [];
  const tracer = new Tracer({ recorder, sampler: { slowestPerRoute: 1 }, onTrace: (t) => kept.push(t) });
  for (let i = 0; i < 3; i++) {
    const ctx = tracer.startRequest('HTTP');
    ctx.root.start -= 10; // a 10 ms request…
    ctx.dbCalls = 5;
    ctx.dbMs = 4; // …spending 4 ms in the database
    tracer.endRequest(ctx, 'GET', '/orders', i === 2 ? 500 : 200);
  }
  assert.equal(kept.length, 2, 'the first (slowest so far) and the error');
  assert.equal(kept[1].spans[0].status, 'error');
  assert.equal(kept[0].spans[0].name, 'GET /orders');
  assert.equal(kept[0].spans[0].attributes['solemate.db.queries'], 5);
  const points = recorder.collect();
  const q = points.find((p) => p.metric === REQUEST_DB_QUERIES)!;
  assert.equal(q.count, 3);
  assert.equal(q.sum, 15);
  assert.equal(q.attributes['http.route'], '/orders');
  const share = points.find((p) => p.metric === REQUEST_DB_TIME_SHARE)!;
  assert.ok(Math.abs(share.sum / share.count - 0.4) < 0.02, String(share.sum / share.count));
});
