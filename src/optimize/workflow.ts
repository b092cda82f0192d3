// The optimization workflow (FR-6.5): pre-check → record → apply → same responses? → measure
// before/after with the load tester on the same scenario, in interleaved runs (ABBA…) → keep if
// significantly better (Mann–Whitney U, Hodges–Lehmann shift with its confidence interval) and
// every round better by more than runs of one setting differ, else roll back → track. Every step
// is recorded in the store before it runs, so a run that dies is rolled back by the next one
// (recoverInterrupted). Records, recovery and the one-optimizer lock live in tracking.ts; how runs
// are summed up in measure.ts; which requests in scenario-routes.ts; what is asked of the app in probes.ts.
import crypto from 'node:crypto';
import type { ScenarioRoute } from '../loadtest/scenario.js';
import { onlyRoutes, requestKey, runPhase, type PhaseResult } from '../loadtest/runner.js';
import { median } from '../query/stats.js';
import { compareLatencies, type Comparison } from '../loadtest/statistics.js';
import { apply, describeAction, PAGE_LOAD_ACTIONS, precheck, rollback, setActive, settingsVersion, undoOf, type ActionContext, type ActionSpec } from './actions.js';
import { measurePageLoad, MIN_PAGE_LOAD_RUNS } from './page-load.js';
import { pageImages } from './html.js';
import { writeSpec } from '../model/settings.js';
import { templateMatcher } from './middleware.js';
import { track, type MeasureSummary, type OptimizationRecord } from './tracking.js';
import { medianOf, p95Text, perRouteP95, quantileOf, roundGains, roundP95Factors, settingNoise, summarize, type MeasureOptions } from './measure.js';
import { identityPaths, reaches, scenarioFor, stepReaches } from './scenario-routes.js';
import { assets, repeatView, snapshot, waitForSettings } from './probes.js';

export interface RunOptions {
  ctx: ActionContext;
  measure: MeasureOptions;
  log?: (m: string) => void;
  /** the recommendation this comes from (for the record) */
  recommendation?: { id: string; title: string; routes: { method: string; route: string }[]; approval?: string };
}

/** applyOptimization + validateOptimization + trackOptimization for one action. */
export async function runOptimization(action: ActionSpec, o: RunOptions): Promise<OptimizationRecord> {
  const { ctx, measure: m } = o;
  const log = o.log ?? (() => {});
  const now = Date.now();
  const routes = o.recommendation?.routes ?? [];
  const r: OptimizationRecord = {
    id: `opt-${now.toString(36)}-${crypto.randomBytes(3).toString('hex')}`,
    recommendationId: o.recommendation?.id,
    ...(o.recommendation?.approval ? { approval: o.recommendation.approval } : {}),
    title: o.recommendation?.title ?? describeAction(action),
    action,
    description: describeAction(action),
    objective: action.type === 'compression' ? 'bytes' : action.type === 'cache-headers' ? 'repeat-view' : PAGE_LOAD_ACTIONS.includes(action.type) ? 'page-load' : 'latency',
    routes: routes.map((x) => `${x.method} ${x.route}`),
    state: 'recorded',
    createdAt: now,
    updatedAt: now,
    events: [],
  };
  const skip = await precheck(action, ctx);
  if (skip) {
    r.reason = skip;
    await track(ctx.store, r, 'skipped', skip);
    log(`${r.title}: skipped — ${skip}`);
    return r;
  }
  // a response cache is measured with the requests that empty it in the mix, at the scenario's own
  // weights (a cache emptied every two seconds in production must not be judged on a run that never
  // empties it). A change to response time is judged on the requests it can affect: the steps that
  // ask for its routes (the cached route's requests alone; for an index, not the checkout of a flow
  // that opens a product page first)
  const cached = routes.length ? m.scenario.routes.filter(reaches(routes)) : [];
  const writers = action.type === 'route-cache' && cached.length ? action.params.invalidatedBy.map(writeSpec) : [];
  const scenario = scenarioFor(m.scenario, [...routes, ...writers]);
  const keys = (pick: (st: ScenarioRoute['steps'][number]) => boolean) => [...new Set(scenario.routes.flatMap((x) => x.steps.filter(pick).map((st) => requestKey(x, st))))];
  const affected = routes.length ? keys(stepReaches(routes)) : [];
  const others = keys(() => true).filter((k) => !affected.includes(k));
  const judged = r.objective === 'latency' && affected.length && others.length ? affected : undefined;
  const alongside = judged && writers.length ? others : [];
  if (alongside.length) r.writesInMix = alongside;
  const pageLoad = action.type === 'image-variants' || action.type === 'page-rewrite' ? action : undefined;
  // a front-end fix changes its responses on purpose: the pages it touches are what is checked
  const paths = pageLoad ? pageLoad.pages.map((u) => new URL(u, m.target).pathname) : identityPaths(scenario);
  const probe = paths[0] ?? '/';
  const isSetting = action.type !== 'create-index';
  const settled = async () => {
    if (isSetting) await waitForSettings(m.target, probe, await settingsVersion(ctx.store), m.settingsTimeoutMs);
  };

  const before = await snapshot(m.target, paths);
  if (action.type === 'route-cache') {
    // the route may be gone since the analysis: no request reaches it, or it answers 404/405
    const re = templateMatcher(action.params.route);
    const reaching = paths.filter((p) => re.test(p.split('?')[0]));
    const gone = reaching.length === 0 ? `no GET request of the scenario reaches ${action.params.route}` : reaching.every((p) => /^40[45] /.test(before.get(p)!)) ? `GET ${action.params.route} answers ${before.get(reaching[0])!.slice(0, 3)}: the route is gone` : undefined;
    if (gone) {
      r.reason = gone;
      await track(ctx.store, r, 'skipped', gone);
      log(`${r.title}: skipped — ${gone}`);
      return r;
    }
  }
  const beforeAssets = action.type === 'cache-headers' ? await assets(action.urls ?? []) : undefined;
  r.undo = undoOf(action, r.id);
  await track(ctx.store, r, 'applying', `applying: ${r.description}`);
  try {
    await apply(action, r.id, ctx);
    await settled();
  } catch (e) {
    r.reason = `apply failed: ${(e as Error).message}`;
    await rollback(r.undo, ctx).catch(() => {});
    await track(ctx.store, r, 'failed', r.reason);
    log(`${r.title}: ${r.reason}`);
    return r;
  }
  await track(ctx.store, r, 'applied', 'applied');
  log(`${r.title}: applied; checking responses`);

  const undo = async (reason: string) => {
    r.reason = reason;
    await rollback(r.undo!, ctx);
    await track(ctx.store, r, 'rolled_back', reason);
    log(`${r.title}: rolled back — ${reason}`);
    return r;
  };
  try {
    if (pageLoad) {
      // the fix must show before it is measured: a variant for its probe image, an edit to its pages
      const reason = await visible(pageLoad, before, m.target);
      if (reason) return await undo(reason);
      await track(ctx.store, r, 'measuring', `measuring: ${Math.max(m.lighthouseRuns, MIN_PAGE_LOAD_RUNS)} Lighthouse runs (mobile) before and as many after, interleaved, of ${pageLoad.pages.join(', ')}`);
      r.pageLoad = await measurePageLoad({
        pages: pageLoad.pages,
        runs: m.lighthouseRuns,
        alpha: m.alpha,
        minImprovementPct: m.minImprovementPct,
        chromePath: m.chromePath,
        log,
        setActive: async (on) => {
          await setActive(action, r.id, on, ctx);
          await settled();
        },
      });
      if (!r.pageLoad.kept) return await undo(r.pageLoad.reason);
      await track(ctx.store, r, 'kept', `kept: ${r.pageLoad.reason}`);
      log(`${r.title}: kept`);
      return r;
    }
    // the same requests must get the same answers, from a cold and from a warm cache
    const first = await snapshot(m.target, paths);
    const second = await snapshot(m.target, paths);
    const differences = paths.filter((p) => first.get(p) !== before.get(p) || second.get(p) !== before.get(p));
    r.identity = { requests: paths.length * 2, differences };
    if (differences.length) return await undo(`responses changed for ${differences.slice(0, 3).join(', ')}${differences.length > 3 ? ' …' : ''}`);

    if (action.type === 'cache-headers') {
      const urls = action.urls ?? [];
      if (urls.length === 0) return await undo('no asset URLs to verify the headers on');
      r.repeatView = await repeatView(urls, beforeAssets!, action.params.maxAgeSeconds);
      if (r.repeatView.stale.length || r.repeatView.afterBytes >= r.repeatView.beforeBytes) return await undo(`a repeat view still downloads ${r.repeatView.afterBytes} of ${r.repeatView.beforeBytes} bytes (${r.repeatView.stale.slice(0, 3).join(', ')})`);
      await track(ctx.store, r, 'kept', `kept: a repeat view within ${action.params.maxAgeSeconds} s downloads ${r.repeatView.afterBytes} instead of ${r.repeatView.beforeBytes} bytes (${urls.length} assets, by their Cache-Control)`);
      log(`${r.title}: kept`);
      return r;
    }
    await track(ctx.store, r, 'measuring', `measuring: ${m.rounds} × ${m.seconds} s before and after at ${m.rate} requests/s (${scenario.routes.map((x) => x.name).join(', ')})${alongside.length ? `; judged on ${judged!.join(', ')}, with ${alongside.join(', ')} emptying the cache alongside` : judged ? `; judged on the requests it can affect: ${judged.join(', ')}` : ''}`);
    const off: PhaseResult[] = [];
    const on: PhaseResult[] = [];
    let active = true;
    const phase = async (want: boolean) => {
      if (active !== want) {
        await setActive(action, r.id, want, ctx);
        await settled();
        active = want;
      }
      const opts = { target: m.target, scenario, connections: m.connections, rate: m.rate, workers: m.workers, thread: m.workers > 0 };
      const res = await runPhase({ ...opts, duration: m.seconds, warmup: 1 });
      (want ? on : off).push(res);
      log(`  ${want ? 'after ' : 'before'}: ${res.requests} requests, p95 ${quantileOf(res, 0.95).toFixed(1)} ms`);
    };
    for (let i = 0; i < m.rounds; i++) for (const want of i % 2 === 0 ? [false, true] : [true, false]) await phase(want);
    if (!active) {
      await setActive(action, r.id, true, ctx);
      await settled();
    }
    const failRatio = (s: MeasureSummary) => (s.requests ? s.failed / s.requests : 0);
    const [allBefore, allAfter] = [summarize(off), summarize(on)];
    r.perRoute = perRouteP95(off, on);
    if (judged) {
      off.splice(0, off.length, ...off.map((x) => onlyRoutes(x, judged)));
      on.splice(0, on.length, ...on.map((x) => onlyRoutes(x, judged)));
    }
    r.before = summarize(off);
    r.after = summarize(on);
    r.p95Factor = r.after.p95 > 0 ? r.before.p95 / r.after.p95 : undefined;
    r.roundP95Factors = roundP95Factors(off, on);
    r.p95FactorMedian = r.roundP95Factors.length ? median([...r.roundP95Factors].sort((a, b) => a - b)) : undefined;
    r.latency = compareLatencies(off.flatMap((x) => x.samples), on.flatMap((x) => x.samples), m.alpha);
    if (failRatio(allAfter) > failRatio(allBefore) + 0.01) return await undo(`more failed requests after (${(failRatio(allAfter) * 100).toFixed(1)}% vs ${(failRatio(allBefore) * 100).toFixed(1)}%)`);
    const fmt = (c: Comparison, unit: string) => `median ${c.baselineMedian.toFixed(2)} → ${c.currentMedian.toFixed(2)} ${unit} (${c.medianChangePct.toFixed(1)}%, shift ${c.shift.shift.toFixed(2)} [${c.shift.low.toFixed(2)}, ${c.shift.high.toFixed(2)}], p = ${c.test.p.toExponential(2)})`;
    if (r.objective === 'bytes') {
      r.bytes = compareLatencies(off.flatMap((x) => x.sizes), on.flatMap((x) => x.sizes), m.alpha);
      if (r.bytes.verdict !== 'improved') return await undo(`bytes per response not significantly lower: ${fmt(r.bytes, 'B')}`);
      if (-r.bytes.medianChangePct < m.minImprovementPct) return await undo(`bytes per response lower by ${(-r.bytes.medianChangePct).toFixed(1)}%, under the ${m.minImprovementPct}% a change must gain`);
      // on loopback compression only costs; on a real link the saved bytes save transfer time
      const savedMs = ((r.before.bytesPerResponse - r.after.bytesPerResponse) * 8) / (m.referenceMbps * 1000);
      if (r.latency.verdict === 'regressed' && r.latency.shift.shift > savedMs) return await undo(`response time worse by ${r.latency.shift.shift.toFixed(2)} ms, more than the ${savedMs.toFixed(2)} ms the saved bytes take at ${m.referenceMbps} Mbit/s: ${fmt(r.latency, 'ms')}`);
      await track(ctx.store, r, 'kept', `kept: bytes ${fmt(r.bytes, 'B')}; latency ${fmt(r.latency, 'ms')}`);
    } else {
      if (r.latency.verdict !== 'improved') return await undo(`response time ${r.latency.verdict === 'regressed' ? 'significantly worse' : 'not significantly better'}: ${fmt(r.latency, 'ms')}`);
      if (-r.latency.medianChangePct < m.minImprovementPct) return await undo(`response time better by ${(-r.latency.medianChangePct).toFixed(1)}%, under the ${m.minImprovementPct}% a change must gain: ${fmt(r.latency, 'ms')}`);
      r.runMediansMs = { before: off.map(medianOf), after: on.map(medianOf) };
      r.roundGainsPct = roundGains(r.runMediansMs.before, r.runMediansMs.after);
      r.noisePct = settingNoise(r.runMediansMs.before, r.runMediansMs.after);
      const needed = Math.max(m.minImprovementPct / 2, r.noisePct);
      const gains = r.roundGainsPct.map((g) => `${g.toFixed(1)}%`).join(', ');
      if (r.roundGainsPct.some((g) => g <= needed)) return await undo(`response time not better in every round by more than the runs' own noise (median gains ${gains}; runs of the same setting differed by up to ${r.noisePct.toFixed(1)}% of the before median, and each round must gain at least ${m.minImprovementPct / 2}%): ${fmt(r.latency, 'ms')}`);
      await track(ctx.store, r, 'kept', `kept: ${fmt(r.latency, 'ms')}; ${p95Text(r)}`);
    }
    log(`${r.title}: kept`);
    return r;
  } catch (e) {
    return undo(`measurement failed: ${(e as Error).message}`);
  }
}

/** What Chromium sends for an <img>. */
const CHROMIUM_IMAGE_ACCEPT = 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8';

/** Why a front-end fix does not show in the app's answers (then it is rolled back unmeasured), or undefined. */
async function visible(a: Extract<ActionSpec, { type: 'image-variants' | 'page-rewrite' }>, before: Map<string, string>, target: string): Promise<string | undefined> {
  if (a.type === 'image-variants') {
    if (!a.probe) return undefined;
    const res = await fetch(new URL(a.probe, target), { headers: { accept: CHROMIUM_IMAGE_ACCEPT }, signal: AbortSignal.timeout(30_000) }).catch((e: Error) => e);
    if (res instanceof Error) return `${a.probe}: ${res.message}`;
    await res.arrayBuffer();
    if (!res.headers.get('x-solemate-image')) return `${a.probe} still answers the original (${res.status} ${res.headers.get('content-type')}): is sharp installed in the app (npm install sharp)?`;
    // the pages' variants made now, as Chromium asks for them: an encode (~0.3 s) is the first
    // visitor's wait, not part of what the runs compare
    const route = templateMatcher(a.params.route);
    for (const page of a.pages) {
      const html = await fetch(new URL(page, target), { signal: AbortSignal.timeout(30_000) }).then((r) => r.text(), () => '');
      for (const img of pageImages(html)) {
        const src = new URL(img.src, new URL(page, target));
        if (route.test(src.pathname)) await fetch(src, { headers: { accept: CHROMIUM_IMAGE_ACCEPT }, signal: AbortSignal.timeout(30_000) }).then((r) => r.arrayBuffer(), () => undefined);
      }
    }
    return undefined;
  }
  const after = await snapshot(target, [...before.keys()]);
  return [...before.keys()].some((p) => after.get(p) !== before.get(p)) ? undefined : `no page of ${a.params.route} changed: nothing on it matched the rewrite`;
}
