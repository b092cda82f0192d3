// Config = defaults ← file (YAML or JSON) ← environment. A bad value is a PERF_ERR_CONFIG naming
// the field path and the reason; the CLI turns it into exit code 2.
import fs from 'node:fs';
import YAML from 'yaml';
import { PerfError } from '../errors.js';
import { performanceConfigSchema, type PerformanceConfig, type PerformanceConfigInput } from './schema.js';

/** Environment variables and the config field each one sets. */
export const ENV_VARS: Record<string, { path: string[]; type: 'string' | 'number' }> = {
  SOLEMATE_PERF_HOST: { path: ['server', 'host'], type: 'string' },
  SOLEMATE_PERF_PORT: { path: ['server', 'port'], type: 'number' },
  SOLEMATE_PERF_DATA: { path: ['store', 'path'], type: 'string' },
  SOLEMATE_PERF_DATABASE_URL: { path: ['store', 'url'], type: 'string' },
  SOLEMATE_PERF_ENDPOINT: { path: ['sdk', 'endpoint'], type: 'string' },
  SOLEMATE_PERF_INTERVAL: { path: ['monitoring', 'interval'], type: 'number' },
  SOLEMATE_PERF_RETENTION_DAYS: { path: ['monitoring', 'retention'], type: 'number' },
};

export interface LoadOptions {
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** applied last (CLI flags) */
  overrides?: PerformanceConfigInput;
}

export function loadConfig(options: LoadOptions = {}): PerformanceConfig {
  const env = options.env ?? process.env;
  const file = options.file ?? env.SOLEMATE_PERF_CONFIG;
  let raw: Record<string, unknown> = {};
  if (file) raw = readFile(file);
  for (const [name, { path, type }] of Object.entries(ENV_VARS)) {
    const v = env[name];
    if (v === undefined || v === '') continue;
    const value = type === 'number' ? Number(v) : v;
    if (type === 'number' && !Number.isFinite(value)) throw new PerfError('PERF_ERR_CONFIG', `${name}=${v}: ${path.join('.')} must be a number`);
    setPath(raw, path, value);
  }
  if (env.SOLEMATE_PERF_DATABASE_URL) setPath(raw, ['store', 'kind'], 'postgres');
  if (options.overrides) deepMerge(raw, options.overrides as Record<string, unknown>);
  return validateConfig(raw, file);
}

export function validateConfig(raw: unknown, source?: string): PerformanceConfig {
  const parsed = performanceConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue.path.join('.') || '(root)';
    const extra = issue.code === 'unrecognized_keys' ? `: ${issue.keys.join(', ')}` : '';
    throw new PerfError('PERF_ERR_CONFIG', `${source ? `${source}: ` : ''}${field}: ${issue.message}${extra}`);
  }
  const config = parsed.data;
  if (config.store.kind === 'postgres' && !config.store.url) {
    throw new PerfError('PERF_ERR_CONFIG', `${source ? `${source}: ` : ''}store.url: required when store.kind is postgres (or set SOLEMATE_PERF_DATABASE_URL)`);
  }
  return config;
}

const TOKENS = {
  ingest: { env: 'SOLEMATE_PERF_INGEST_TOKEN', field: 'ingestTokenFile' },
  viewer: { env: 'SOLEMATE_PERF_VIEWER_TOKEN', field: 'viewerTokenFile' },
  admin: { env: 'SOLEMATE_PERF_ADMIN_TOKEN', field: 'adminTokenFile' },
} as const;

/** A server token, from its environment variable or its server.*TokenFile; never from the config itself. */
export function readToken(kind: keyof typeof TOKENS, config: PerformanceConfig, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const { env: name, field } = TOKENS[kind];
  if (env[name]) return env[name];
  const file = config.server[field];
  if (!file) return undefined;
  try {
    return fs.readFileSync(file, 'utf8').trim() || undefined;
  } catch (e) {
    throw new PerfError('PERF_ERR_CONFIG', `server.${field}: cannot read ${file} (${(e as NodeJS.ErrnoException).code})`);
  }
}

/** The ingest token, from SOLEMATE_PERF_INGEST_TOKEN or server.ingestTokenFile. */
export const readIngestToken = (config: PerformanceConfig, env: NodeJS.ProcessEnv = process.env) => readToken('ingest', config, env);

function readFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new PerfError('PERF_ERR_CONFIG', `${file}: cannot read (${(e as NodeJS.ErrnoException).code})`);
  }
  try {
    const data = file.endsWith('.json') ? JSON.parse(text) : YAML.parse(text, { prettyErrors: true });
    if (data === null || data === undefined) return {};
    if (typeof data !== 'object' || Array.isArray(data)) throw new Error('the top level must be a mapping');
    return data as Record<string, unknown>;
  } catch (e) {
    throw new PerfError('PERF_ERR_CONFIG', `${file}: ${(e as Error).message.split('\n')[0]}`);
  }
}

function setPath(obj: Record<string, unknown>, path: string[], value: unknown): void {
  let o = obj;
  for (const k of path.slice(0, -1)) {
    if (typeof o[k] !== 'object' || o[k] === null) o[k] = {};
    o = o[k] as Record<string, unknown>;
  }
  o[path[path.length - 1]] = value;
}

function deepMerge(into: Record<string, unknown>, from: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(from)) {
    if (v === undefined) continue;
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      if (typeof into[k] !== 'object' || into[k] === null) into[k] = {};
      deepMerge(into[k] as Record<string, unknown>, v as Record<string, unknown>);
    } else into[k] = v;
  }
}
