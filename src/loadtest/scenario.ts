// Scenarios are data: a YAML or JSON file of weighted routes (single requests or multi-step flows)
// with dynamic parameters, and k6-style thresholds. Errors name the file, line, column and field.
//
//   name: browse-and-buy
//   target: http://127.0.0.1:3000
//   variables:
//     productId: { random: [1, 100000] }        # an integer, inclusive bounds
//     size: { pick: [40, 41, 42, 43] }          # one of these
//   routes:
//     - { name: product page, weight: 60, path: "/products/{{productId}}" }
//     - name: buy
//       weight: 5
//       steps:                                  # one virtual user, in order, same variables
//         - { method: POST, path: /api/cart/items, json: { productId: "{{productId}}", size: "{{size}}" } }
//         - { method: POST, path: /api/checkout, json: { customerId: 1 } }
//   thresholds:
//     http_req_duration: ["p(95)<200"]
//     http_req_failed: ["rate<0.01"]
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { PerfError } from '../errors.js';
import { parseYaml } from '../yaml.js';
import { parseThreshold, THRESHOLD_METRICS, type Threshold } from './thresholds.js';

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

const request = z
  .object({
    method: z.enum(METHODS).default('GET'),
    path: z.string().startsWith('/', { message: 'a path starts with "/"' }),
    headers: z.record(z.string()).optional(),
    json: z.unknown().optional(),
    body: z.string().optional(),
    /** statuses that count as success (default 200–399) */
    expect: z.array(z.number().int().min(100).max(599)).optional(),
  })
  .strict();

const route = z.union([
  request.extend({ name: z.string().optional(), weight: z.number().positive().default(1) }).strict(),
  z.object({ name: z.string().optional(), weight: z.number().positive().default(1), steps: z.array(request).min(1) }).strict(),
]);

const variable = z.union([
  z.object({ random: z.tuple([z.number().int(), z.number().int()]).refine(([a, b]) => a <= b, { message: 'random: [low, high] with low ≤ high' }) }).strict(),
  z.object({ pick: z.array(z.union([z.string(), z.number()])).min(1) }).strict(),
]);

const scenarioSchema = z
  .object({
    name: z.string().min(1),
    description: z.string().optional(),
    target: z.string().url().optional(),
    variables: z.record(z.string().regex(/^[A-Za-z_]\w*$/), variable).default({}),
    routes: z.array(route).min(1),
    thresholds: z.record(z.enum(THRESHOLD_METRICS as [string, ...string[]]), z.array(z.string()).min(1)).default({}),
  })
  .strict();

export type ScenarioRequest = z.output<typeof request>;
export type Variable = z.output<typeof variable>;

export interface ScenarioRoute {
  name: string;
  weight: number;
  steps: ScenarioRequest[];
}

export interface Scenario {
  name: string;
  description?: string;
  target?: string;
  variables: Record<string, Variable>;
  routes: ScenarioRoute[];
  thresholds: Threshold[];
  /** where it was read from, for messages */
  source: string;
}

/** Reads and validates a scenario file. Throws PERF_ERR_USAGE (exit 2) with file:line:column. */
export function loadScenario(file: string): Scenario {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new PerfError('PERF_ERR_USAGE', `cannot read scenario ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  return parseScenario(text, file);
}

export function parseScenario(text: string, file = '<scenario>'): Scenario {
  const { data: s, fail } = parseYaml(text, file, scenarioSchema);
  const routes: ScenarioRoute[] = s.routes.map((r, i) => {
    const steps = 'steps' in r ? r.steps : [{ method: r.method, path: r.path, headers: r.headers, json: r.json, body: r.body, expect: r.expect }];
    return { name: r.name ?? (steps.length === 1 ? `${steps[0].method} ${steps[0].path}` : `flow ${i + 1}`), weight: r.weight, steps };
  });
  // every {{name}} must be a declared variable
  routes.forEach((r, i) =>
    r.steps.forEach((step, j) => {
      for (const name of templateNames(JSON.stringify(step))) {
        if (!(name in s.variables)) fail(['routes', i, ...(s.routes[i] && 'steps' in s.routes[i] ? ['steps', j] : [])], `uses {{${name}}}, which is not under variables`);
      }
    }),
  );
  const thresholds: Threshold[] = [];
  for (const [metric, exprs] of Object.entries(s.thresholds)) {
    exprs.forEach((e, i) => {
      try {
        thresholds.push(parseThreshold(metric, e));
      } catch (err) {
        fail(['thresholds', metric, i], (err as Error).message);
      }
    });
  }
  return { name: s.name, description: s.description, target: s.target, variables: s.variables, routes, thresholds, source: path.basename(file) };
}

/** {{name}} in a path, header or body */
const TEMPLATE = /\{\{\s*([A-Za-z_]\w*)\s*\}\}/g;

/** Fills {{name}} in a path, URL-encoding the values. */
export function fillPath(p: string, vars: Record<string, string | number>): string {
  return p.replace(TEMPLATE, (_, n) => encodeURIComponent(String(vars[n])));
}

function templateNames(text: string): string[] {
  return [...text.matchAll(TEMPLATE)].map((m) => m[1]);
}

/** Draws a value for every variable (one draw per route execution, shared by a flow's steps). */
export function drawVariables(vars: Record<string, Variable>, rand: () => number = Math.random): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(vars)) {
    if ('random' in v) out[k] = v.random[0] + Math.floor(rand() * (v.random[1] - v.random[0] + 1));
    else out[k] = v.pick[Math.floor(rand() * v.pick.length)];
  }
  return out;
}

/** Fills {{name}} in headers and bodies; a JSON string that is exactly one template takes the variable's type. */
export function fill<T>(value: T, vars: Record<string, string | number>): T {
  if (typeof value === 'string') {
    const whole = /^\{\{\s*([A-Za-z_]\w*)\s*\}\}$/.exec(value);
    if (whole) return vars[whole[1]] as T;
    return value.replace(TEMPLATE, (_, n) => String(vars[n])) as T;
  }
  if (Array.isArray(value)) return value.map((v) => fill(v, vars)) as T;
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fill(v, vars)])) as T;
  return value;
}
