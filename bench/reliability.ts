// The reliability suite (issue #25, item 8): the BUILT server as a separate process, pushed where
// production pushes it — a million series, restarts, the largest accepted request, SIGKILL during
// ingest — with each figure beside the issue's target in one table (docs/benchmarks.md, "Reliability").
// Case 5 restarts on a million series already on disk. `npm run test:reliability` (about 8 minutes
// on 2 vCPUs) or `npm run test:reliability -- --quick` (~1).
// A missed target is reported, not thrown: the process exits 0 with the table; a case that breaks
// becomes a FAIL row and the next case still runs. Everything started here is stopped on every exit.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { ExportMetricsServiceResponse } from '../src/otlp/proto.js';
import { ExpHistogram } from '../src/model/histogram.js';
import type { MetricPoint } from '../src/model/metrics.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { save, table } from './lib.js';
import { runDurability, type DurabilityResult } from './reliability/durability.js';
import { Prober, request, type Answer, type Latency } from './reliability/http.js';
import { COUNTER_METRIC, HIGH_CARDINALITY_METRIC, highCardinalityRequest, largestRequest, traceId } from './reliability/payloads.js';
import { NeighbourCpu } from './reliability/neighbours.js';
import { killAll, RssSampler, startedPids, startServer, statusKb, stopServer, type ServerProcess } from './reliability/server.js';

const QUICK = process.argv.includes('--quick');
/** The targets of issue #25, item 8. */
/** keptAfterBurstPct: ours, for the issue's "memory returns after a burst": the share of the burst's growth still held once idle */
const TARGET = { healthzP99Ms: 100, rssMiB: 512, apiMs: 2000, restartMs: 10_000, lost: 0, keptAfterBurstPct: 50 };
const SIZE = QUICK
  ? { requests: 20, points: 5000, largest: 20_000, settleMs: 10_000, restartProbeMs: 10_000, durabilityMs: 15_000, killsAtMs: [3000, 7000, 11_000], backlogProbeMs: 0 }
  : // backlogProbeMs: the server's maintenance timer first fires 60 s after the start (src/server/app.ts)
    { requests: 200, points: 5000, largest: 20_000, settleMs: 30_000, restartProbeMs: 30_000, durabilityMs: 60_000, killsAtMs: [12_000, 27_000, 42_000], backlogProbeMs: 75_000 };
/** Requests in flight during case 1 (the issue's "2 at a time"). */
const IN_FLIGHT = 2;
const OTLP_PROTO = { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' };
const ENDPOINTS = ['/api/metrics?from=-15m', '/api/metrics/names', `/api/series?metric=${encodeURIComponent(HIGH_CARDINALITY_METRIC)}`, '/api/routes?from=-15m', '/api/status', '/api/dashboard', '/api/traces', '/api/limits', '/metrics', '/'];

interface Row {
  case: string;
  figure: string;
  value: string;
  target: string;
  result: 'PASS' | 'FAIL' | '';
}
const rows: Row[] = [];
const details: Record<string, unknown> = {};
const ms = (v: number) => (Number.isNaN(v) ? 'n/a' : v < 10 ? `${v.toFixed(1)} ms` : `${Math.round(v).toLocaleString('en-US')} ms`);
const mib = (v: number) => `${v.toFixed(0)} MiB`;
const num = (v: number) => v.toLocaleString('en-US');
const info = (c: string, figure: string, value: string) => rows.push({ case: c, figure, value, target: '', result: '' });
/** A figure against a target it must stay below (or equal to, for a count that must be 0). */
function check(c: string, figure: string, value: number, show: string, limit: number, target: string): void {
  const pass = limit === 0 ? value === 0 : value < limit;
  rows.push({ case: c, figure, value: show, target, result: pass ? 'PASS' : 'FAIL' });
}
const note = (m: string) => process.stderr.write(`[reliability ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
const latencyText = (l: Latency) => `p50 ${ms(l.p50)}, p99 ${ms(l.p99)}, max ${ms(l.max)} (at ${(l.maxAtMs / 1000).toFixed(1)} s; ${num(l.n)} probes${l.failed ? `, ${l.failed} failed` : ''})`;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'solemate-reliability-'));
const LOG = path.join(tmp, 'server.log');
const FILE_A = path.join(tmp, 'perf.db');
const FILE_B = path.join(tmp, 'durability.db');
const FILE_C = path.join(tmp, 'on-disk.db');
const FILE_D = path.join(tmp, 'burst.db');
let serverA: ServerProcess | undefined;
const alive = (s: ServerProcess | undefined): s is ServerProcess => !!s && s.child.exitCode === null && s.child.signalCode === null;

process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    killAll();
    fs.rmSync(tmp, { recursive: true, force: true });
    process.exit(130);
  });
}

/** Case 1: a million series of one histogram metric, 2 requests in flight, /healthz and RSS watched. */
async function highCardinality(): Promise<void> {
  const c = '1 high cardinality';
  const t0 = performance.now();
  const bodies: Buffer[] = [];
  for (let r = 0; r < SIZE.requests; r++) bodies.push(highCardinalityRequest(r, SIZE.points));
  const total = SIZE.requests * SIZE.points;
  note(`case 1: built ${SIZE.requests} requests × ${num(SIZE.points)} points (${(bodies.reduce((a, b) => a + b.length, 0) / 2 ** 20).toFixed(1)} MiB gzipped) in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  const server = (serverA = await startServer(FILE_A, LOG));
  const rss = new RssSampler(server.pid);
  const probe = new Prober(() => server.url, 50);
  const agent = new http.Agent({ keepAlive: true, maxSockets: IN_FLIGHT });
  const tally = { ok: 0, busy: 0, failed: [] as string[], partial: 0, rejected: 0, messages: new Map<string, number>() };
  let next = 0;
  const sender = async () => {
    while (next < bodies.length) {
      const body = bodies[next++];
      for (;;) {
        const a = await request(`${server.url}/v1/metrics`, { method: 'POST', headers: OTLP_PROTO, body, agent, timeoutMs: 120_000 });
        if (a.status === 429) {
          tally.busy++;
          await sleep(Number(a.headers['retry-after'] ?? 1) * 1000);
          continue;
        }
        if (a.status !== 200) tally.failed.push(`${a.status} ${a.body.toString('utf8').slice(0, 200)}`);
        else {
          tally.ok++;
          const res = ExportMetricsServiceResponse.toObject(ExportMetricsServiceResponse.decode(a.body), { longs: String }) as { partialSuccess?: { rejectedDataPoints?: string; errorMessage?: string } };
          if (res.partialSuccess?.errorMessage || res.partialSuccess?.rejectedDataPoints) {
            tally.partial++;
            tally.rejected += Number(res.partialSuccess.rejectedDataPoints ?? 0);
            // the counts differ per request; the shape of the message is what is worth reading
            const shape = (res.partialSuccess.errorMessage ?? '').replace(/\d+/g, 'N');
            tally.messages.set(shape, (tally.messages.get(shape) ?? 0) + 1);
          }
        }
        break;
      }
    }
  };
  const ti = performance.now();
  await Promise.all(Array.from({ length: IN_FLIGHT }, sender));
  const ingestMs = performance.now() - ti;
  agent.destroy();
  const healthz = await probe.stop();
  const ingestMem = rss.peek();
  note(`case 1: ${num(total)} points sent in ${(ingestMs / 1000).toFixed(1)} s; timing the API`);

  check(c, '/healthz during ingest (every 50 ms)', healthz.p99, latencyText(healthz), TARGET.healthzP99Ms, `p99 < ${TARGET.healthzP99Ms} ms`);
  info(c, 'ingest', `${num(total)} points (${num(total)} distinct series) in ${(ingestMs / 1000).toFixed(1)} s = ${num(Math.round(total / (ingestMs / 1000)))} points/s; ${tally.ok}/${SIZE.requests} answered 200, ${tally.busy} × 429 resent, ${tally.failed.length} failed${tally.failed.length ? ` (${tally.failed[0]})` : ''}`);
  info(c, 'partial success', `${tally.partial} answers, rejectedDataPoints ${num(tally.rejected)}; ${[...tally.messages].map(([m, n]) => `${n} × "${m.slice(0, 260)}"`).join('; ') || 'none'}`);

  const api: { endpoint: string; status: number; ms: number; bytes: number; note: string }[] = [];
  for (const endpoint of ENDPOINTS) {
    let a: Answer | undefined;
    let error = '';
    try {
      a = await request(`${server.url}${endpoint}`, { timeoutMs: 60_000, headers: { accept: endpoint === '/' ? 'text/html' : 'application/json' } });
    } catch (e) {
      error = (e as Error).message;
    }
    const status = a?.status ?? 0;
    const body = a?.body.toString('utf8') ?? '';
    const narrow = status === 422 ? `422 "${(JSON.parse(body) as { message?: string }).message ?? ''}"` : '';
    api.push({ endpoint, status, ms: a?.ms ?? NaN, bytes: a?.body.length ?? 0, note: error || narrow });
    const ok = status === 200 || status === 422;
    rows.push({ case: c, figure: `GET ${endpoint}`, value: `${status || 'no answer'} in ${ms(a?.ms ?? NaN)}, ${num(a?.body.length ?? 0)} bytes${narrow ? ` (narrow the query: ${narrow})` : ''}${error ? ` (${error})` : ''}`, target: `200 (or 422) < ${TARGET.apiMs} ms`, result: ok && (a?.ms ?? Infinity) < TARGET.apiMs ? 'PASS' : 'FAIL' });
    if (endpoint === '/api/limits' && status === 200) {
      const l = JSON.parse(body) as { activeSeries: number; overflows: { metric: string; reason: string; total: number; attribute?: string; distinct?: number }[] };
      info(c, '/api/limits', `activeSeries ${num(l.activeSeries)}; overflows: ${l.overflows.map((o) => `${o.metric} ${o.reason} ${num(o.total)} points (culprit ${o.attribute ?? '?'}, ${num(o.distinct ?? 0)} values)`).join('; ') || 'none'}`);
    }
    if (endpoint === '/metrics' && status === 200) {
      const pick = (re: RegExp) => body.match(re)?.[1] ?? '?';
      info(c, '/metrics self-metrics', `points accepted ${pick(/^solemate_perf_ingest_points_total\{result="accepted"\} (\d+)/m)}, rejected ${pick(/^solemate_perf_ingest_points_total\{result="rejected"\} (\d+)/m)}; active series ${pick(/^solemate_perf_ingest_active_series (\d+)/m)}; overflow points ${[...body.matchAll(/^solemate_perf_ingest_series_overflow_points_total\{([^}]*)\} (\d+)/gm)].map((m) => `{${m[1]}} ${m[2]}`).join(', ') || 'none'}`);
    }
  }
  const mem = rss.stop();
  check(c, 'server RSS peak, ingest and the API calls (VmHWM; VmRSS sampled every 200 ms)', mem.hwmMiB, `${mib(mem.hwmMiB)} (sampled ${mib(mem.sampledPeakMiB)}); during ingest alone ${mib(ingestMem.hwmMiB)}`, TARGET.rssMiB, `< ${TARGET.rssMiB} MiB`);
  details.highCardinality = { ingestMs, healthz, ingestMem, mem, tally: { ...tally, messages: Object.fromEntries(tally.messages) }, api };
}

/** Case 3: the largest request the server accepts, as protobuf and as JSON, /healthz probed every 10 ms. */
async function largest(): Promise<void> {
  const c = '3 largest request';
  const proto = largestRequest(SIZE.largest, 'reliability-big-proto');
  const json = largestRequest(SIZE.largest, 'reliability-big-json');
  if (!alive(serverA)) serverA = await startServer(FILE_A, LOG);
  const server = serverA;
  const out: Record<string, unknown> = {};
  for (const [encoding, body, raw, type] of [['protobuf', proto.proto, proto.protoBytes, 'application/x-protobuf'], ['JSON', json.json, json.jsonBytes, 'application/json']] as const) {
    const probe = new Prober(() => server.url, 10);
    const a = await request(`${server.url}/v1/metrics`, { method: 'POST', headers: { 'content-type': type, 'content-encoding': 'gzip' }, body, timeoutMs: 120_000 });
    const healthz = await probe.stop();
    out[encoding] = { status: a.status, ms: a.ms, healthz, body: a.body.length };
    const figure = `${num(SIZE.largest)} points, ${encoding} (${(body.length / 2 ** 20).toFixed(1)} MiB gzip, ${(raw / 2 ** 20).toFixed(1)} MiB raw)`;
    rows.push({ case: c, figure: `${figure}: answer`, value: `${a.status} in ${ms(a.ms)}${a.status === 200 ? '' : `: ${a.body.toString('utf8').slice(0, 200)}`}`, target: '200', result: a.status === 200 ? 'PASS' : 'FAIL' });
    check(c, `${figure}: /healthz while it is stored (every 10 ms)`, healthz.p99, latencyText(healthz), TARGET.healthzP99Ms, `p99 < ${TARGET.healthzP99Ms} ms`);
  }
  // memory after a burst: the same two requests again (their series now known, so what stays is
  // not new state), then what the server holds once it is idle. The target is measured on a server
  // that has only these series: this one holds case 1's million and runs its maintenance pass
  // (a rollup over all of them, every 60 s) inside the settling window, so here it is a figure only
  const burst = async (on: ServerProcess) => {
    const rssMiB = () => statusKb(on.pid, 'VmRSS') / 1024;
    const before = rssMiB();
    const rss = new RssSampler(on.pid, 50);
    for (const [body, type] of [[proto.proto, 'application/x-protobuf'], [json.json, 'application/json']] as const) {
      await request(`${on.url}/v1/metrics`, { method: 'POST', headers: { 'content-type': type, 'content-encoding': 'gzip' }, body, timeoutMs: 120_000 });
    }
    const peak = rss.stop().sampledPeakMiB;
    await sleep(SIZE.settleMs);
    const after = rssMiB();
    const kept = peak > before ? Math.max(0, after - before) / (peak - before) : 0;
    return { before, peak, after, kept, settleMs: SIZE.settleMs, show: `${(kept * 100).toFixed(0)}% (${mib(before)} → ${mib(peak)} → ${mib(after)})` };
  };
  const onBusy = await burst(server);
  const own = await startServer(FILE_D, LOG);
  try {
    for (const [body, type] of [[proto.proto, 'application/x-protobuf'], [json.json, 'application/json']] as const) {
      await request(`${own.url}/v1/metrics`, { method: 'POST', headers: { 'content-type': type, 'content-encoding': 'gzip' }, body, timeoutMs: 120_000 });
    }
    const onOwn = await burst(own);
    out.rss = { own: onOwn, withMillionSeries: onBusy };
    check(c, `both again on a server of their own (series known): RSS ${SIZE.settleMs / 1000} s later, of what the burst added (before → peak → after)`, onOwn.kept * 100, onOwn.show, TARGET.keptAfterBurstPct, `< ${TARGET.keptAfterBurstPct}%`);
  } finally {
    await stopServer(own, 'SIGTERM');
  }
  info(c, `the same on the server with case 1's million series (its 60-s maintenance pass runs in the window)`, onBusy.show);
  details.largest = out;
}

/** Case 2: SIGTERM, start again on the same file, time to healthy, /healthz for a while after. */
async function restart(): Promise<void> {
  const c = '2 restart';
  if (!alive(serverA)) serverA = await startServer(FILE_A, LOG);
  const stopped = await stopServer(serverA, 'SIGTERM');
  info(c, 'SIGTERM → exit', `${ms(stopped.ms)}, exit ${stopped.signal ?? stopped.code}${stopped.forced ? ' (did not stop in 20 s: SIGKILLed)' : ''}; data file ${(fs.statSync(FILE_A).size / 2 ** 20).toFixed(0)} MiB`);
  const again = (serverA = await startServer(FILE_A, LOG));
  check(c, 'start on the same file → /healthz 200', again.healthyMs, `${ms(again.healthyMs)} (listening after ${ms(again.listeningMs)})`, TARGET.restartMs, `< ${TARGET.restartMs / 1000} s`);
  const probe = new Prober(() => again.url, 50);
  await sleep(SIZE.restartProbeMs);
  const healthz = await probe.stop();
  info(c, `/healthz for ${SIZE.restartProbeMs / 1000} s after (every 50 ms)`, `${latencyText(healthz)}; no maintenance pass in this window (its timer fires 60 s after the start): see "restart with a rollup backlog"`);
  await stopServer(again, 'SIGTERM');
  details.restart = { stopped, healthyMs: again.healthyMs, listeningMs: again.listeningMs, healthz };
}

/** Case 4: SIGKILL during ingest, then the store compared with what was acknowledged; and the restart that rolls it up. */
async function durability(): Promise<void> {
  const c = '4 SIGKILL during ingest';
  const minutes = 600;
  const base = Math.floor(Date.now() / 60_000) * 60_000 - (minutes + 10) * 60_000;
  const kills = SIZE.killsAtMs.map((t) => t + Math.round(Math.random() * 1000));
  const r: DurabilityResult = await runDurability({ data: FILE_B, logFile: LOG, durationMs: SIZE.durabilityMs, killsAtMs: kills, layout: { seriesPerBatch: 1000, minutes, lanes: 8, base }, metricSenders: 2, traces: 50, spansPerTrace: 10 }, (k) => note(`case 4: SIGKILL at ${(k.atMs / 1000).toFixed(1)} s with ${k.inFlight} requests in flight; healthy again after ${ms(k.downMs)}`));
  const m = r.metrics;
  const s = r.spans;
  info(c, 'run', `${SIZE.durabilityMs / 1000} s, 2 senders of 1,000 counter points (1,000 series, +1 each) and 1 of 500 spans; SIGKILL at ${r.restarts.map((k) => `${(k.atMs / 1000).toFixed(1)} s (${k.inFlight} in flight)`).join(', ')}`);
  check(c, 'restart after SIGKILL → /healthz 200 (worst of 3)', Math.max(...r.restarts.map((k) => k.healthyMs)), r.restarts.map((k) => ms(k.healthyMs)).join(', '), TARGET.restartMs, `< ${TARGET.restartMs / 1000} s`);
  check(c, 'counter increments: acknowledged → lost', m.lost, `${num(m.ackedIncrements)} acknowledged (${num(m.acked.size)} batches), ${num(m.storedIncrements)} stored, ${num(m.lost)} lost`, TARGET.lost, '0 lost');
  info(c, 'counter increments: stored twice', `${num(m.duplicates)} (${m.uncertain.size} batches were sent again after a cut-short attempt; ${m.connectionErrors} connection errors, ${m.busy} × 429/503, ${num(m.unexpected)} stored increments of unacknowledged batches)`);
  check(c, 'spans: acknowledged → lost', s.lost, `${num(s.ackedSpans)} acknowledged (${num(s.acked.size)} batches), ${num(s.storedSpans)} stored, ${num(s.lost)} lost`, TARGET.lost, '0 lost');
  info(c, 'spans: stored twice', `0 possible (the spans table keys on trace and span id); ${s.uncertain.size} batches sent again, ${s.connectionErrors} connection errors, ${num(s.unexpected)} stored spans of unacknowledged batches`);
  details.durability = { ...r, metrics: { ...m, acked: m.acked.size, uncertain: m.uncertain.size }, spans: { ...s, acked: s.acked.size, uncertain: s.uncertain.size } };

  // The same file again: the first maintenance pass rolls up the hours case 4 wrote into (they lie
  // in the past, and no server of case 4 lived the 60 s until its first pass).
  const cb = '2b restart with a rollup backlog';
  const db = new Database(FILE_B, { readonly: true });
  const backlog = db.prepare('SELECT count(*) AS n, count(DISTINCT t / 3600000) AS hours FROM points_minute').get() as { n: number; hours: number };
  db.close();
  const server = await startServer(FILE_B, LOG);
  check(cb, 'start on the case-4 file → /healthz 200', server.healthyMs, `${ms(server.healthyMs)} (data file ${(fs.statSync(FILE_B).size / 2 ** 20).toFixed(0)} MiB)`, TARGET.restartMs, `< ${TARGET.restartMs / 1000} s`);
  if (SIZE.backlogProbeMs > 0) {
    const probe = new Prober(() => server.url, 50);
    await sleep(SIZE.backlogProbeMs);
    const healthz = await probe.stop();
    info(cb, `/healthz for ${SIZE.backlogProbeMs / 1000} s after (every 50 ms), through the first maintenance pass`, `${latencyText(healthz)}; the pass had ${num(backlog.n)} minute rows in ${backlog.hours} hours to roll up`);
    details.backlog = { healthz, backlog };
  } else info(cb, '/healthz through the first maintenance pass', 'not measured with --quick (the pass comes 60 s after the start)');
  const series = await request(`${server.url}/api/series?metric=${encodeURIComponent(COUNTER_METRIC)}&limit=10000`);
  const body = JSON.parse(series.body.toString('utf8')) as { series?: unknown[]; total?: number };
  const lanes = Math.ceil(m.acked.size / minutes);
  info(c, 'read back through the API', `/api/series: ${num(body.total ?? body.series?.length ?? 0)} series of ${COUNTER_METRIC} (${num(Math.min(lanes, 8) * 1000)} sent)`);
  let spans = 0;
  for (let b = 0; b < Math.min(5, s.acked.size); b++) {
    const t = await request(`${server.url}/api/traces/${traceId(b, 0)}`);
    spans += (t.body.toString('utf8').match(/"spanId"/g) ?? []).length;
  }
  info(c, 'read back through the API', `/api/traces/<id> of the first 5 acknowledged span batches' first traces: ${spans} spans (${Math.min(5, s.acked.size) * 10} sent)`);
  await stopServer(server, 'SIGTERM');
}

/**
 * Case 5: a million series already on disk (100 metrics × 10,000, written through the store the way
 * a server before the limits, or many metrics at their limit, would leave them), all in one past
 * hour: the restart, /healthz through the first maintenance pass that rolls that hour up, and the
 * API over them.
 */
async function seriesOnDisk(): Promise<void> {
  const c = '5 a million series on disk';
  const metrics = QUICK ? 10 : 100;
  const store = new SqliteStore(FILE_C, { synchronous: 'NORMAL' });
  await store.migrate();
  const at = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000 + 60_000; // a minute into the last complete hour
  const t0 = performance.now();
  for (let m = 0; m < metrics; m++) {
    const points: MetricPoint[] = [];
    for (let i = 0; i < 10_000; i++) {
      const h = new ExpHistogram();
      h.record(0.01 + (i % 50) / 1000);
      points.push({ metric: `reliability.disk.${m}`, kind: 'histogram', unit: 's', service: 'shop', instance: 'i', attributes: { 'user.id': `u${i}` }, startTime: at - 60_000, time: at, count: 1, sum: h.sum, min: h.min, max: h.max, last: 0, hist: h.toData() });
    }
    await store.write(points);
  }
  await store.close();
  info(c, 'seeded', `${num(metrics * 10_000)} series (${metrics} metrics × 10,000), one point each in the last complete hour, in ${((performance.now() - t0) / 1000).toFixed(0)} s; data file ${(fs.statSync(FILE_C).size / 2 ** 20).toFixed(0)} MiB`);
  const server = await startServer(FILE_C, LOG);
  const rss = new RssSampler(server.pid);
  check(c, 'start → /healthz 200', server.healthyMs, ms(server.healthyMs), TARGET.restartMs, `< ${TARGET.restartMs / 1000} s`);
  if (SIZE.backlogProbeMs > 0) {
    const probe = new Prober(() => server.url, 50);
    await sleep(SIZE.backlogProbeMs);
    const healthz = await probe.stop();
    const db = new Database(FILE_C, { readonly: true });
    const rolled = db.prepare('SELECT count(*) FROM points_hour').pluck().get() as number;
    db.close();
    check(c, `/healthz for ${SIZE.backlogProbeMs / 1000} s after (every 50 ms), through the first maintenance pass`, healthz.p99, `${latencyText(healthz)}; hour rows rolled up meanwhile: ${num(rolled)}`, TARGET.healthzP99Ms, `p99 < ${TARGET.healthzP99Ms} ms`);
  } else info(c, '/healthz through the first maintenance pass', 'not measured with --quick (the pass comes 60 s after the start)');
  for (const e of ['/api/metrics/names', '/api/series?metric=reliability.disk.7', '/api/query?metric=reliability.disk.7&aggregation=p95&window=5m&from=-2h']) {
    const t = performance.now();
    const a = await request(`${server.url}${e}`);
    const took = performance.now() - t;
    const ok = a.status === 200 || a.status === 422;
    check(c, `GET ${e}`, ok ? took : Number.POSITIVE_INFINITY, `${a.status} in ${ms(took)}`, TARGET.apiMs, `200 (or 422) < ${TARGET.apiMs / 1000} s`);
  }
  const mem = rss.stop();
  check(c, 'server RSS peak', mem.hwmMiB, mib(mem.hwmMiB), TARGET.rssMiB, `< ${TARGET.rssMiB} MiB`);
  await stopServer(server, 'SIGTERM');
}

function machine(): { nproc: string; cpu: string; memory: string; node: string; kernel: string } {
  const cpu = /^model name\s*:\s*(.+)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? os.cpus()[0]?.model ?? '?';
  return { nproc: spawnSync('nproc').stdout?.toString().trim() || String(os.cpus().length), cpu, memory: `${Math.round(os.totalmem() / 2 ** 30)} GiB`, node: process.version, kernel: `${os.platform()} ${os.release()}` };
}

async function main(): Promise<void> {
  if (!fs.existsSync('dist/cli/main.js')) {
    console.error('dist/cli/main.js is missing: run `npm run build` first (npm run test:reliability does).');
    process.exit(2);
  }
  const started = new Date();
  const load = [os.loadavg()[0]];
  const cases: [string, () => Promise<void>][] = [
    ['1 high cardinality', highCardinality],
    ['3 largest request', largest],
    ['2 restart', restart],
    ['4 SIGKILL during ingest', durability],
    ['5 a million series on disk', seriesOnDisk],
  ];
  for (const [name, run] of cases) {
    note(`case ${name}`);
    const neighbours = new NeighbourCpu(() => new Set([process.pid, ...startedPids]));
    try {
      await run();
    } catch (e) {
      rows.push({ case: name, figure: 'the case did not finish', value: (e as Error).message.slice(0, 300), target: 'finishes', result: 'FAIL' });
      note(`case ${name} broke: ${(e as Error).stack ?? e}`);
      killAll();
      serverA = undefined;
    }
    const n = neighbours.stop();
    info(name, 'CPU of other processes on the machine meanwhile (disturbance)', `${n.mean.toFixed(2)} cores on average, ${n.max.toFixed(2)} in the busiest second (of ${os.cpus().length})`);
    load.push(os.loadavg()[0]);
  }
  const m = machine();
  const minutes = (Date.now() - started.getTime()) / 60_000;
  const command = `npm run test:reliability${QUICK ? ' -- --quick' : ''}`;
  const ordered = [...rows].sort((a, b) => a.case.localeCompare(b.case, 'en', { numeric: true }));
  console.log(`\n${command} — ${started.toISOString()}, ${minutes.toFixed(1)} min; nproc ${m.nproc}, ${m.cpu}, ${m.memory}, Node ${m.node}, ${m.kernel}; 1-min load average ${load.map((l) => l.toFixed(2)).join(' → ')} (before and after each case)\n`);
  console.log(table(['case', 'figure', 'value', 'target', 'result'], ordered.map((r) => [r.case, r.figure, r.value.replace(/\|/g, '\\|'), r.target, r.result])));
  const failed = rows.filter((r) => r.result === 'FAIL').length;
  console.log(`\n${rows.filter((r) => r.result === 'PASS').length} PASS, ${failed} FAIL${failed ? ' (reported, not failed: see the table)' : ''}`);
  save(QUICK ? 'reliability-quick' : 'reliability', { command, quick: QUICK, machine: m, load, minutes, rows: ordered, details });
  const log = fs.existsSync(LOG) ? fs.readFileSync(LOG, 'utf8').trim() : '';
  if (log) console.log(`\nserver stderr (last 20 lines):\n${log.split('\n').slice(-20).join('\n')}`);
  fs.rmSync(tmp, { recursive: true, force: true });
}

await main();
