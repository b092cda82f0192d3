// Which of the load-test scenario's requests a change is measured and checked on: the routes that
// reach its route templates, and a fixed set of GETs for the same-responses check. Pure: no I/O.
import { drawVariables, fillPath, type Scenario, type ScenarioRoute } from '../loadtest/scenario.js';
import { templateMatcher } from './middleware.js';

/** Whether a scenario step requests one of these routes (templates, "/x/:id"). */
export function stepReaches(routes: { method: string; route: string }[]): (s: ScenarioRoute['steps'][number]) => boolean {
  const matchers = routes.map((r) => ({ method: r.method.toUpperCase(), re: templateMatcher(r.route) }));
  const placeholder = (p: string) => p.replace(/\{\{[^}]*\}\}/g, '1').split('?')[0];
  return (s) => matchers.some((m) => m.method === s.method.toUpperCase() && m.re.test(placeholder(s.path)));
}

/** Whether one of the scenario route's steps requests one of these routes. */
export function reaches(routes: { method: string; route: string }[]): (r: ScenarioRoute) => boolean {
  const step = stepReaches(routes);
  return (r) => r.steps.some(step);
}

/** The scenario's routes that reach one of these route templates (all of them when none does). */
export function scenarioFor(scenario: Scenario, routes: { method: string; route: string }[]): Scenario {
  const kept = routes.length ? scenario.routes.filter(reaches(routes)) : [];
  const base = kept.length ? kept : scenario.routes;
  // browsers ask for compressed responses; autocannon does not unless told
  const withEncoding = base.map((r) => ({ ...r, steps: r.steps.map((s) => (Object.keys(s.headers ?? {}).some((h) => h.toLowerCase() === 'accept-encoding') ? s : { ...s, headers: { ...s.headers, 'accept-encoding': 'br, gzip' } })) }));
  return { ...scenario, routes: withEncoding };
}

/** A small seeded generator: the identity check asks the same requests before and after. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** GET requests of the scenario with fixed variable values (at most `max`). */
export function identityPaths(scenario: Scenario, max = 12): string[] {
  const rand = seeded(42);
  const out = new Set<string>();
  for (let round = 0; round < 4 && out.size < max; round++) {
    for (const r of scenario.routes) {
      const vars = drawVariables(scenario.variables, rand);
      for (const s of r.steps) if (s.method.toUpperCase() === 'GET' && out.size < max) out.add(fillPath(s.path, vars));
    }
  }
  return [...out];
}
