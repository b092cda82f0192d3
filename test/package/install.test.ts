// The package as a user meets it: `npm pack`, then `npm install` of that tarball into an empty
// project in a fresh mode-700 directory (like /root), without our devDependencies. There the command
// starts and serves, both entries import from ESM and CommonJS, a short load test runs, and every
// command answers --help. Slow (npm compiles better-sqlite3, about a minute) and needs the npm
// registry, like any install.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const ROOT = path.resolve(import.meta.dirname, '../..');
const run = promisify(execFile);
/** The tarball's budget: what we ship is the built code, the dashboard, the shipped rules and the docs. */
const MAX_TARBALL_BYTES = 1_500_000;

interface Packed {
  filename: string;
  size: number;
  unpackedSize: number;
  files: { path: string }[];
}

test('packed, installed into an empty mode-700 project, it starts, imports, load-tests and answers --help', { timeout: 15 * 60_000 }, async (t) => {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'solemate-pack-'));
  fs.chmodSync(work, 0o700);
  t.after(() => fs.rmSync(work, { recursive: true, force: true }));

  // what `npm publish` would send: a fresh build, packed
  await run('npm', ['run', 'build'], { cwd: ROOT, maxBuffer: 1 << 24 });
  const { stdout: packOut } = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], { cwd: ROOT, maxBuffer: 1 << 24 });
  const packed = (JSON.parse(packOut) as Packed[])[0];
  const files = packed.files.map((f) => f.path);
  t.diagnostic(`tarball ${packed.filename}: ${(packed.size / 1024).toFixed(0)} KiB packed, ${(packed.unpackedSize / 1024).toFixed(0)} KiB unpacked, ${files.length} files`);
  assert.ok(packed.size < MAX_TARBALL_BYTES, `tarball ${packed.size} bytes, budget ${MAX_TARBALL_BYTES}`);
  for (const f of ['dist/cli/main.js', 'dist/index.js', 'dist/index.d.ts', 'dist/sdk.js', 'dist/sdk.d.ts', 'dist/loadtest/worker.js', 'web/dist/index.html', 'docs/openapi.json', 'performance/alerts/performance.yml', 'performance/dashboards/performance.json', 'README.md', 'LICENSE']) {
    assert.ok(files.includes(f), `the tarball has ${f}`);
  }
  const stray = files.filter((f) => /^(src|test|bench|examples|scripts|\.data|\.ci)\/|\.map$|\.tsbuildinfo$|^docs\/screenshots\//.test(f));
  assert.deepEqual(stray, [], 'no sources, tests, benches, data, source maps or screenshots in the tarball');

  // an empty project, as `npm init -y` leaves it; the install is what a user runs
  const app = path.join(work, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true }));
  const install = await run('npm', ['install', '--no-audit', '--no-fund', '--omit=dev', path.join(work, packed.filename)], { cwd: app, maxBuffer: 1 << 24 });
  // npm lists the packages whose install scripts it ran without approval: only native ones may be there
  const scripted = [...install.stderr.matchAll(/install-scripts\s+(\S+)@\S+ \(/g)].map((m) => m[1]);
  assert.deepEqual(scripted.filter((p) => p !== 'better-sqlite3'), [], `packages with install scripts: ${scripted.join(', ')}`);
  const bin = path.join(app, 'node_modules/.bin/solemate-perf');

  await t.test('solemate-perf --help, and --help on every command it lists', async () => {
    const { stdout } = await run(bin, ['--help'], { cwd: app });
    const commands = [...stdout.matchAll(/^ {2}([a-z]+) {2,}/gm)].map((m) => m[1]);
    assert.ok(commands.length >= 11 && commands.includes('start') && commands.includes('loadtest'), `commands: ${commands.join(', ')}`);
    for (const c of commands) {
      const { stdout: help } = await run(bin, [c, '--help'], { cwd: app });
      assert.match(help, new RegExp(`solemate-perf ${c}`), `${c} --help`);
    }
  });

  await t.test('the root and /sdk import from ESM and from CommonJS; /browser resolves', async () => {
    fs.writeFileSync(
      path.join(app, 'esm.mjs'),
      `import * as root from 'solemate-performance';\nimport * as sdk from 'solemate-performance/sdk';\nconsole.log(JSON.stringify({ createServer: typeof root.createServer, openStore: typeof root.openStore, createPerformanceService: typeof sdk.createPerformanceService, expressMetrics: typeof sdk.expressMetrics, serverInSdk: 'createServer' in sdk }));\n`,
    );
    fs.writeFileSync(
      path.join(app, 'cjs.cjs'),
      `Promise.all([import('solemate-performance'), import('solemate-performance/sdk')]).then(([root, sdk]) => console.log(JSON.stringify({ createServer: typeof root.createServer, createPerformanceService: typeof sdk.createPerformanceService })));\n`,
    );
    const esm = JSON.parse((await run('node', ['esm.mjs'], { cwd: app })).stdout);
    assert.deepEqual(esm, { createServer: 'function', openStore: 'function', createPerformanceService: 'function', expressMetrics: 'function', serverInSdk: false });
    const cjs = JSON.parse((await run('node', ['cjs.cjs'], { cwd: app })).stdout);
    assert.deepEqual(cjs, { createServer: 'function', createPerformanceService: 'function' });
    // the browser entry resolves, with web-vitals installed beside it (a bundler takes it from here)
    fs.writeFileSync(path.join(app, 'browser.mjs'), `import { startRum } from 'solemate-performance/browser';\nconsole.log(typeof startRum);\n`);
    assert.equal((await run('node', ['browser.mjs'], { cwd: app })).stdout.trim(), 'function');
  });

  await t.test('solemate-perf start: health, dashboard, OTLP ingest from the installed SDK and as JSON, /metrics', async () => {
    const server = spawn(bin, ['start', '--port', '0', '--data', path.join(work, 'data', 'perf.db'), '--json'], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    server.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => server.once('exit', (code) => resolve(code)));
    try {
      const first = await new Promise<string>((resolve, reject) => {
        let out = '';
        server.stdout.on('data', (d) => {
          out += d;
          if (out.includes('\n')) resolve(out.split('\n')[0]);
        });
        void exited.then((code) => reject(new Error(`start exited with ${code}: ${stderr}`)));
      });
      const { url } = JSON.parse(first) as { url: string };
      assert.deepEqual(await (await fetch(`${url}/healthz`)).json(), { status: 'ok', store: 'sqlite' });
      // the real-user snippet's script-tag form, from the package's browser/dist
      const rum = await fetch(`${url}/rum.js`);
      assert.equal(rum.status, 200);
      assert.match(await rum.text(), /sendBeacon/);
      const page = await fetch(`${url}/`);
      assert.equal(page.status, 200);
      const html = await page.text();
      const script = html.match(/<script[^>]+src="([^"]+)"/)?.[1];
      assert.ok(script, 'the dashboard page loads a script');
      assert.equal((await fetch(new URL(script, `${url}/`))).status, 200, `the dashboard's script ${script} is served`);

      // the installed SDK, as an app would use it
      fs.writeFileSync(
        path.join(app, 'send.mjs'),
        `import { createPerformanceService } from 'solemate-performance/sdk';\nconst perf = createPerformanceService({ service: 'packaged', runtimeMetrics: false, handleSignals: false, config: { sdk: { endpoint: process.argv[2] } } });\nperf.recordCounter('orders.placed', 3, { channel: 'web' });\nawait perf.shutdown();\n`,
      );
      await run('node', ['send.mjs', url], { cwd: app });
      // any OpenTelemetry SDK: OTLP/HTTP JSON
      const ns = String(BigInt(Date.now()) * 1_000_000n);
      const otlp = { resourceMetrics: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'otel-app' } }] }, scopeMetrics: [{ scope: { name: 't' }, metrics: [{ name: 'queue.depth', gauge: { dataPoints: [{ timeUnixNano: ns, asDouble: 7 }] } }] }] }] };
      const ingest = await fetch(`${url}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(otlp) });
      assert.equal(ingest.status, 200, await ingest.clone().text());
      const metrics = await (await fetch(`${url}/metrics`)).text();
      assert.match(metrics, /^orders_placed_total\{[^}]*channel="web"[^}]*\} 3$/m);
      assert.match(metrics, /^queue_depth\{[^}]*\} 7$/m);
    } finally {
      server.kill('SIGTERM');
    }
    assert.equal(await exited, 0, `start exits 0 on SIGTERM: ${stderr}`);
  });

  await t.test('solemate-perf loadtest: 3 seconds against a loopback server, stored', async () => {
    let served = 0;
    const target = http.createServer((_req, res) => (served++, res.end('ok')));
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    t.after(() => target.close());
    const port = (target.address() as import('node:net').AddressInfo).port;
    fs.writeFileSync(path.join(app, 'scenario.yml'), `name: packaged\ntarget: http://127.0.0.1:${port}\nroutes:\n  - { name: home, path: "/" }\n`);
    const { stdout } = await run(bin, ['loadtest', 'scenario.yml', '--duration', '3s', '--rate', '50', '--data', path.join(work, 'data', 'runs.db'), '--json'], { cwd: app, maxBuffer: 1 << 24 });
    const result = JSON.parse(stdout) as { id: string; requests: number; failed: number };
    assert.ok(result.id, 'the run is stored');
    assert.ok(result.requests >= 100 && result.failed === 0, `requests ${result.requests}, failed ${result.failed}`);
    assert.ok(served >= result.requests, `the server saw ${served}, the run counted ${result.requests}`);
  });
});

