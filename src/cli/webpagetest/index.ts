// solemate-perf webpagetest <url>: one WebPageTest test (first view only) on a public or private
// instance, its median first view printed and, with --server, stored beside the Lighthouse runs.
// The API key comes from WPT_API_KEY only, so it never sits in a config file or a shell history.
import { PerfError } from '../../errors.js';
import { runWebPageTest } from '../../lab/webpagetest.js';
import { postJson } from '../client.js';
import type { Command, CommandSpec, Io } from '../command.js';

export function build(): CommandSpec {
  return {
    name: 'webpagetest',
    summary: 'A WebPageTest test of a page (median first view: TTFB, start render, Speed Index, LCP, bytes), stored beside the Lighthouse runs.',
    usage: 'solemate-perf webpagetest <url> [--wpt https://www.webpagetest.org] [--location Dulles:Chrome] [--runs 3] [--timeout 600] [--server http://127.0.0.1:4318] [--json]',
    options: { wpt: { type: 'string' }, location: { type: 'string' }, runs: { type: 'string' }, timeout: { type: 'string' }, server: { type: 'string' }, revision: { type: 'string' } },
    help: {
      wpt: 'WebPageTest server (default $WPT_SERVER or https://www.webpagetest.org); the key is read from WPT_API_KEY',
      location: "test location, e.g. Dulles:Chrome (default: the server's)",
      runs: 'runs (default 3, 1–9); the median first view is kept',
      timeout: 'seconds to wait for the test (default 600)',
      server: 'store the result on this performance server (default: not stored; $SOLEMATE_PERF_URL)',
      revision: 'git revision stored with the result',
    },
  };
}

export async function run(values: Record<string, unknown>, pos: string[], io: Io): Promise<number> {
  const url = pos[0];
  if (!url || !/^https?:\/\//.test(url) || pos.length > 1) throw new PerfError('PERF_ERR_USAGE', 'name one http(s) URL: solemate-perf webpagetest https://shop.example.com/');
  const runs = values.runs === undefined ? 3 : Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1 || runs > 9) throw new PerfError('PERF_ERR_USAGE', '--runs must be a whole number from 1 to 9');
  const timeout = values.timeout === undefined ? 600 : Number(values.timeout);
  if (!(timeout > 0)) throw new PerfError('PERF_ERR_USAGE', '--timeout must be a number of seconds');
  const server = String(values.wpt ?? io.env.WPT_SERVER ?? 'https://www.webpagetest.org');
  const r = await runWebPageTest({ server, url, key: io.env.WPT_API_KEY, location: values.location as string | undefined, runs, timeoutMs: timeout * 1000, pollMs: Number(io.env.WPT_POLL_MS ?? 5000), onProgress: (m) => io.err(`webpagetest: ${m}`) });
  const perf = (values.server as string | undefined) ?? io.env.SOLEMATE_PERF_URL;
  if (perf) await postJson(perf, '/api/webpagetest/runs', { ...r, revision: values.revision }, io.env, 'the result');
  if (values.json) io.out(JSON.stringify(r, null, 2));
  else {
    const f = r.firstView;
    const ms = (v?: number) => (v === undefined ? '—' : `${Math.round(v)} ms`);
    io.out(`${r.url} — WebPageTest ${r.testId}${r.location ? ` at ${r.location}` : ''}, median first view of ${r.successfulRuns}/${r.runs} runs`);
    io.out(`  TTFB ${ms(f.ttfb)}  start render ${ms(f.startRender)}  Speed Index ${ms(f.speedIndex)}  LCP ${ms(f.largestContentfulPaint)}  fully loaded ${ms(f.fullyLoaded)}  ${f.bytes ?? '—'} bytes in ${f.requests ?? '—'} requests`);
    if (r.summaryUrl) io.out(`  ${r.summaryUrl}`);
  }
  return 0;
}

export default { build, run } satisfies Command;
