// Replication lag from a real primary and streaming replica: a private pair of clusters built with
// the machine's PostgreSQL binaries (initdb, pg_basebackup) in a temporary directory.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { collectPostgres } from '../../src/collectors/postgres.js';
import { tmpDir } from '../helpers.js';

const binDir = fs.existsSync('/usr/lib/postgresql') ? fs.readdirSync('/usr/lib/postgresql').sort().map((v) => `/usr/lib/postgresql/${v}/bin`).reverse().find((d) => fs.existsSync(`${d}/pg_basebackup`)) : undefined;
const skip = binDir ? false : 'PostgreSQL server binaries with pg_basebackup not found under /usr/lib/postgresql (apt-get install -y postgresql)';
const root = process.getuid?.() === 0;
/** PostgreSQL refuses to run as root: as root, run its tools as the "postgres" user. */
const run = (tool: string, args: string[]) => execFileSync(root ? 'runuser' : `${binDir}/${tool}`, root ? ['-u', 'postgres', '--', `${binDir}/${tool}`, ...args] : args, { stdio: 'pipe', timeout: 60_000 });

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

const dirs: string[] = [];
after(() => {
  for (const d of dirs) {
    try {
      run('pg_ctl', ['-D', d, '-m', 'immediate', 'stop']);
    } catch {
      // not running
    }
  }
});

test('primary sees its streaming replica with a byte lag; the replica reports its replay lag', { skip }, async () => {
  const base = tmpDir('pg-repl-');
  fs.chmodSync(base, 0o777);
  const primary = path.join(base, 'primary');
  const replica = path.join(base, 'replica');
  const [p1, p2] = [await freePort(), await freePort()];
  run('initdb', ['-D', primary, '-U', 'postgres', '--auth=trust', '--no-sync']);
  fs.appendFileSync(path.join(primary, 'pg_hba.conf'), '\nhost replication all 127.0.0.1/32 trust\n');
  fs.appendFileSync(path.join(primary, 'postgresql.conf'), `\nport = ${p1}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '${base}'\nwal_level = replica\nfsync = off\n`);
  run('pg_ctl', ['-D', primary, '-l', path.join(base, 'primary.log'), '-w', 'start']);
  dirs.push(primary);
  run('pg_basebackup', ['-h', '127.0.0.1', '-p', String(p1), '-U', 'postgres', '-D', replica, '-R', '-X', 'stream', '--no-sync']);
  fs.appendFileSync(path.join(replica, 'postgresql.conf'), `\nport = ${p2}\n`);
  run('pg_ctl', ['-D', replica, '-l', path.join(base, 'replica.log'), '-w', 'start']);
  dirs.push(replica);

  const primaryUrl = `postgres://postgres@127.0.0.1:${p1}/postgres`;
  const replicaUrl = `postgres://postgres@127.0.0.1:${p2}/postgres`;
  const c = new pg.Client({ connectionString: primaryUrl });
  await c.connect();
  try {
    await c.query('CREATE TABLE t (x int)');
    await c.query('INSERT INTO t SELECT generate_series(1, 1000)');
    // wait until the replica has replayed it
    let r;
    for (let i = 0; i < 50; i++) {
      r = await collectPostgres(c, { replicas: [replicaUrl] });
      // both sides known: the replica has replayed, and the primary has its replay position
      if (r.replication.some((x) => x.name.includes(String(p2)) && x.lagSeconds !== undefined) && r.replication.some((x) => x.state === 'streaming' && x.lagBytes !== undefined)) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    const fromPrimary = r!.replication.find((x) => x.state === 'streaming' && x.lagBytes !== undefined);
    assert.ok(fromPrimary, JSON.stringify(r!.replication));
    assert.ok(fromPrimary.lagBytes! >= 0);
    const fromReplica = r!.replication.find((x) => x.name === `127.0.0.1:${p2}/postgres`);
    assert.equal(fromReplica?.state, 'streaming');
    assert.ok(fromReplica?.lagSeconds !== undefined && fromReplica.lagSeconds >= 0 && fromReplica.lagSeconds < 60, JSON.stringify(fromReplica));
    const rc = new pg.Client({ connectionString: replicaUrl });
    await rc.connect();
    const self = await collectPostgres(rc);
    await rc.end();
    assert.equal(self.replication[0].name, 'self (replica)');
    assert.ok(self.replication[0].lagSeconds !== undefined);
  } finally {
    await c.end();
  }
});
