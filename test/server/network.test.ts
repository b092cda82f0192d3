// Safe network defaults (issue 25): binding beyond loopback needs an admin token, for
// `solemate-perf start` and createServer alike; server.insecure / --insecure starts anyway and warns;
// loopback without tokens starts as before.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import type { PerformanceConfigInput } from '../../src/config/schema.js';
import { PerfError } from '../../src/errors.js';
import { createServer, type PerformanceServer, type ServerOptions } from '../../src/server/app.js';
import { isLoopback } from '../../src/server/exposure.js';
import { json, testConfig, tmpDir } from '../helpers.js';
import { cli } from '../cli/run.js';

const MAIN = path.resolve('src/cli/main.ts');
const servers: PerformanceServer[] = [];
after(() => Promise.all(servers.map((s) => s.close())));

/** A server on its own SQLite file, so a refused start can be seen to have opened nothing. */
async function start(server: PerformanceConfigInput['server'], env: NodeJS.ProcessEnv = {}, more: Partial<ServerOptions> = {}) {
  const data = path.join(tmpDir(), 'perf.db');
  const s = await createServer({ config: testConfig({ server, store: { path: data } }), env, ...more });
  servers.push(s);
  return s;
}

async function session(s: PerformanceServer, token?: string) {
  // a server on 0.0.0.0 answers on loopback too
  return json(fetch(`http://127.0.0.1:${s.port}/api/session`, { headers: token ? { authorization: `Bearer ${token}` } : {} }));
}

test('loopback: 127.0.0.0/8, ::1 and localhost; everything else may be reached from elsewhere', () => {
  for (const h of ['127.0.0.1', '127.10.20.30', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', 'localhost', 'LOCALHOST']) assert.equal(isLoopback(h), true, h);
  for (const h of ['0.0.0.0', '::', '', '10.0.0.5', '192.168.1.20', '128.0.0.1', '::ffff:10.0.0.1', 'fe80::1', 'example.com', 'localhost.example.com']) assert.equal(isLoopback(h), false, h);
});

test('createServer on 0.0.0.0 without an admin token is refused before anything is opened', async () => {
  const data = path.join(tmpDir(), 'perf.db');
  await assert.rejects(
    createServer({ config: testConfig({ server: { host: '0.0.0.0' }, store: { path: data } }), env: {} }),
    (e: unknown) => {
      assert.ok(e instanceof PerfError);
      assert.equal(e.code, 'PERF_ERR_CONFIG');
      assert.match(e.message, /^server\.host: 0\.0\.0\.0 is reachable beyond this machine/);
      assert.match(e.message, /SOLEMATE_PERF_ADMIN_TOKEN=<secret> \(or server\.adminTokenFile: <file holding it>\)/);
      assert.match(e.message, /--insecure \(server\.insecure: true\)/);
      return true;
    },
  );
  assert.equal(fs.existsSync(data), false, 'the store was not opened');
  // a viewer token alone guards reads, not changes: still refused
  await assert.rejects(createServer({ config: testConfig({ server: { host: '::' }, store: { path: data } }), env: { SOLEMATE_PERF_VIEWER_TOKEN: 'v' } }), /server\.host: :: is reachable/);
});

test('createServer on 0.0.0.0 with an admin token starts, and changes need the token', async () => {
  const fromEnv = await start({ host: '0.0.0.0' }, { SOLEMATE_PERF_ADMIN_TOKEN: 'sesame' });
  assert.deepEqual(fromEnv.warnings, []);
  assert.deepEqual(await session(fromEnv), { role: 'anonymous', canRead: true, canWrite: false, readNeedsToken: false, writeNeedsToken: true });
  assert.equal((await session(fromEnv, 'sesame')).canWrite, true);

  const file = path.join(tmpDir(), 'admin-token');
  fs.writeFileSync(file, 'from-a-file\n');
  const fromFile = await start({ host: '0.0.0.0', adminTokenFile: file });
  assert.equal((await session(fromFile)).canWrite, false);
  assert.equal((await session(fromFile, 'from-a-file')).canWrite, true);

  // the ingest token is the admin token when none is set (auth.ts), but every instrumented app holds
  // it: beyond loopback it is not enough, alone or set as the admin token too
  const data = path.join(tmpDir(), 'perf.db');
  for (const env of [{ SOLEMATE_PERF_INGEST_TOKEN: 'app-secret' }, { SOLEMATE_PERF_INGEST_TOKEN: 'app-secret', SOLEMATE_PERF_ADMIN_TOKEN: 'app-secret' }]) {
    await assert.rejects(createServer({ config: testConfig({ server: { host: '0.0.0.0' }, store: { path: data } }), env }), /without an admin token \(the ingest token is not enough: every instrumented app holds it\)/);
  }
  const both = await start({ host: '0.0.0.0' }, { SOLEMATE_PERF_INGEST_TOKEN: 'app-secret', SOLEMATE_PERF_ADMIN_TOKEN: 'sesame' });
  assert.equal((await session(both, 'app-secret')).canWrite, false);
  assert.equal((await session(both, 'sesame')).canWrite, true);
});

test('server.insecure starts on 0.0.0.0 without a token, and warns that anyone can change the system', async () => {
  const heard: string[] = [];
  const s = await start({ host: '0.0.0.0', insecure: true }, {}, { onWarning: (m) => heard.push(m) });
  assert.equal(s.warnings.length, 1);
  assert.deepEqual(heard, s.warnings);
  assert.match(s.warnings[0], /^server\.insecure: listening on 0\.0\.0\.0 without an admin token; anyone who can reach this port can change the system/);
  assert.match(s.warnings[0], /SOLEMATE_PERF_ADMIN_TOKEN/);
  assert.equal((await session(s)).canWrite, true);

  // without onWarning and with the default silent logger the warning still surfaces, as a process warning
  const warned = new Promise<Error>((resolve) => {
    const listener = (w: Error & { code?: string }) => w.code === 'PERF_W_INSECURE' && (process.off('warning', listener), resolve(w));
    process.on('warning', listener);
  });
  const quiet = await start({ host: '0.0.0.0', insecure: true });
  assert.equal((await warned).message, quiet.warnings[0]);

  // insecure with a token, or on loopback, has nothing to warn about
  assert.deepEqual((await start({ host: '0.0.0.0', insecure: true }, { SOLEMATE_PERF_ADMIN_TOKEN: 't' })).warnings, []);
  assert.deepEqual((await start({ host: '127.0.0.1', insecure: true })).warnings, []);
});

test('loopback without any token starts as before, open to its own machine', async () => {
  for (const host of ['127.0.0.1', 'localhost']) {
    const s = await start({ host });
    assert.deepEqual(s.warnings, []);
    assert.deepEqual(await session(s), { role: 'anonymous', canRead: true, canWrite: true, readNeedsToken: false, writeNeedsToken: false });
  }
});

test('solemate-perf start --host 0.0.0.0 without an admin token exits 2 saying how to set one', async () => {
  const data = path.join(tmpDir(), 'perf.db');
  const res = await cli(['start', '--host', '0.0.0.0', '--port', '0', '--data', data]);
  assert.equal(res.code, 2);
  assert.equal(res.out, '');
  assert.match(res.err, /^solemate-perf start: server\.host: 0\.0\.0\.0 is reachable beyond this machine/);
  assert.match(res.err, /SOLEMATE_PERF_ADMIN_TOKEN=<secret> \(or server\.adminTokenFile: <file holding it>\)/);
  assert.match(res.err, /\[PERF_ERR_CONFIG\]$/);
  assert.equal(fs.existsSync(data), false);
  // the same from the environment and from a config file
  assert.equal((await cli(['start', '--port', '0', '--data', data], { SOLEMATE_PERF_HOST: '0.0.0.0' })).code, 2);
  const file = path.join(tmpDir(), 'perf.yml');
  fs.writeFileSync(file, 'server:\n  host: "::"\n');
  assert.match((await cli(['start', '--port', '0', '--data', data, '--config', file])).err, /server\.host: :: is reachable/);
  // --help names the flag
  assert.match((await cli(['start', '--help'])).out, /--insecure\s+trusted network only/);
});

/** `solemate-perf start … --json` as a real process: its JSON line, what it wrote to stderr until then. */
function startProcess(args: string[], env: NodeJS.ProcessEnv): Promise<{ child: ReturnType<typeof spawn>; line: Record<string, unknown>; stderr: () => string }> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SOLEMATE_PERF_')));
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'start', '--port', '0', '--data', path.join(tmpDir(), 'perf.db'), '--json', ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...clean, ...env } });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${stderr}`)));
    readline.createInterface({ input: child.stdout! }).once('line', (line) => resolve({ child, line: JSON.parse(line), stderr: () => stderr }));
  });
}

async function stop(child: ReturnType<typeof spawn>) {
  const exited = new Promise((res) => child.once('exit', res));
  child.kill('SIGTERM');
  await exited;
}

test('solemate-perf start --host 0.0.0.0 starts with an admin token, and with --insecure warns on stderr', async () => {
  const withToken = await startProcess(['--host', '0.0.0.0'], { SOLEMATE_PERF_ADMIN_TOKEN: 'sesame' });
  try {
    assert.equal(withToken.line.warnings, undefined);
    const port = withToken.line.port as number;
    assert.equal((await json(fetch(`http://127.0.0.1:${port}/api/session`))).writeNeedsToken, true);
    assert.doesNotMatch(withToken.stderr(), /warning/);
  } finally {
    await stop(withToken.child);
  }

  const insecure = await startProcess(['--host', '0.0.0.0', '--insecure'], {});
  try {
    // stderr and stdout are separate pipes: the warning, written first, may arrive second
    for (let i = 0; i < 50 && !insecure.stderr().includes('\n'); i++) await new Promise((r) => setTimeout(r, 20));
    assert.match(insecure.stderr(), /^solemate-perf start: warning: server\.insecure: listening on 0\.0\.0\.0 without an admin token; anyone who can reach this port can change the system/);
    assert.deepEqual((insecure.line.warnings as string[]).length, 1);
    assert.equal((await json(fetch(`http://127.0.0.1:${insecure.line.port as number}/api/session`))).canWrite, true);
  } finally {
    await stop(insecure.child);
  }
});
