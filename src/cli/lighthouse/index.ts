// solemate-perf lighthouse <url…>: Lighthouse CI in the product. N runs per URL on the system's
// Chromium, the representative run's figures, Lighthouse CI's assertions (lighthouserc format), and
// the runs stored on the performance server keyed by URL, git revision and release (--server).
// Exit 1 when an "error" assertion fails, as `lhci assert` does.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { PerfError } from '../../errors.js';
import { assertRuns, readAssertions, type AssertionResult } from '../../lab/assertions.js';
import { medianRun, runLighthouse, type Preset } from '../../lab/lighthouse.js';
import { postJson } from '../client.js';
import type { Command, CommandSpec, Io } from '../command.js';

export function build(): CommandSpec {
  return {
    name: 'lighthouse',
    summary: 'Lighthouse runs of pages (median of N), Lighthouse CI assertions, runs stored by revision.',
    usage: 'solemate-perf lighthouse <url…> [--runs 3] [--preset mobile|desktop] [--assert lighthouserc.json] [--server http://127.0.0.1:4318] [--revision SHA] [--release v1.2] [--json]',
    options: { runs: { type: 'string' }, preset: { type: 'string' }, assert: { type: 'string' }, server: { type: 'string' }, revision: { type: 'string' }, release: { type: 'string' }, 'chrome-path': { type: 'string' } },
    help: {
      runs: 'runs per URL (default 3, 1–20); the representative run is the one closest to the median FCP and TTI',
      preset: 'mobile (default: Lighthouse\'s simulated slow 4G and 4× CPU slowdown) or desktop',
      assert: 'assertions in Lighthouse CI\'s format: lighthouserc.json / .yml (ci.assert.assertions); an "error" that fails exits 1',
      server: 'store the runs on this performance server (default: not stored; $SOLEMATE_PERF_URL)',
      revision: 'git revision the runs belong to (default: git rev-parse HEAD here, when in a repository)',
      release: 'release label stored with the runs',
      'chrome-path': 'Chromium binary (default $CHROME_PATH or /usr/bin/chromium)',
    },
  };
}

export async function run(values: Record<string, unknown>, urls: string[], io: Io): Promise<number> {
  if (urls.length === 0) throw new PerfError('PERF_ERR_USAGE', 'name at least one URL: solemate-perf lighthouse http://127.0.0.1:3000/');
  for (const u of urls) if (!/^https?:\/\//.test(u)) throw new PerfError('PERF_ERR_USAGE', `${u} is not an http(s) URL`);
  const runs = values.runs === undefined ? 3 : Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 20) throw new PerfError('PERF_ERR_USAGE', '--runs must be a whole number from 1 to 20');
  const preset = (values.preset ?? 'mobile') as Preset;
  if (preset !== 'mobile' && preset !== 'desktop') throw new PerfError('PERF_ERR_USAGE', '--preset must be mobile or desktop');
  const assertions = values.assert === undefined ? undefined : readAssertionsFile(String(values.assert));
  const revision = (values.revision as string | undefined) ?? gitRevision();
  const server = (values.server as string | undefined) ?? io.env.SOLEMATE_PERF_URL;

  const results = await runLighthouse(urls, { runs, preset, chromePath: values['chrome-path'] as string | undefined, onProgress: (m) => io.err(`lighthouse: ${m}`) });
  const checked = assertions ? assertRuns(results, assertions) : [];
  let stored: string | undefined;
  if (server) stored = (await postJson<{ id?: string }>(server, '/api/lighthouse/runs', { runs: results, revision, release: values.release as string | undefined, preset }, io.env, 'the runs')).id ?? '?';

  const summary = urls.map((url) => {
    const mine = results.filter((r) => r.url === url);
    const m = medianRun(mine);
    return { url, runs: mine.length, median: { categories: m.categories, metrics: m.metrics, resources: m.resources }, lcp: mine.map((r) => r.metrics.largestContentfulPaint ?? null) };
  });
  const failed = checked.filter((c) => !c.passed && c.level === 'error');
  if (values.json) io.out(JSON.stringify({ revision, preset, summary, assertions: checked, stored: stored ?? null, passed: failed.length === 0 }, null, 2));
  else {
    for (const s of summary) {
      const { categories: c, metrics: m } = s.median;
      io.out(`${s.url} — representative of ${s.runs} ${preset} runs`);
      io.out(`  performance ${score(c.performance)}  accessibility ${score(c.accessibility)}  best practices ${score(c['best-practices'])}  SEO ${score(c.seo)}`);
      io.out(`  FCP ${ms(m.firstContentfulPaint)}  LCP ${ms(m.largestContentfulPaint)}  TBT ${ms(m.totalBlockingTime)}  CLS ${m.cumulativeLayoutShift?.toFixed(3) ?? '—'}  SI ${ms(m.speedIndex)}  TTI ${ms(m.interactive)}`);
      io.out(`  LCP of each run: ${s.lcp.map((v) => ms(v ?? undefined)).join(', ')}`);
    }
    if (checked.length) io.out(table(checked));
    if (stored) io.out(`stored on ${server} as ${stored}${revision ? ` (revision ${revision.slice(0, 12)})` : ''}`);
  }
  return failed.length ? 1 : 0;
}

function readAssertionsFile(file: string) {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new PerfError('PERF_ERR_CONFIG', `--assert ${file}: ${(e as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = /\.ya?ml$/i.test(file) ? parseYaml(text) : JSON.parse(text);
  } catch (e) {
    throw new PerfError('PERF_ERR_CONFIG', `--assert ${file}: ${(e as Error).message}`);
  }
  return readAssertions(doc, file);
}

function gitRevision(): string | undefined {
  const r = spawnSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

const score = (v: number | null | undefined) => (v === null || v === undefined ? '—' : String(Math.round(v * 100)));
const ms = (v: number | undefined) => (v === undefined ? '—' : `${Math.round(v)} ms`);

function table(rows: AssertionResult[]): string {
  const lines = ['', 'assertion                                   level  expected            actual        result'];
  for (const r of rows) {
    const exp = `${r.operator.replace('NumericValue', '').replace('Score', ' score')} ${r.expected}`;
    const act = r.actual === null ? 'no value' : Number.isInteger(r.actual) ? String(r.actual) : r.actual.toFixed(3);
    lines.push(`${`${r.assertion}`.padEnd(43)} ${r.level.padEnd(6)} ${exp.padEnd(19)} ${act.padEnd(13)} ${r.passed ? 'pass' : r.level === 'error' ? 'FAIL' : 'warn'}${urlNote(r)}`);
  }
  return lines.join('\n');
}
const urlNote = (r: AssertionResult) => ` (${r.aggregation}, ${r.url})`;

export default { build, run } satisfies Command;
