import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PostgresStore } from '../../src/store/postgres.js';
import { freshDatabase } from '../helpers.js';
import { histPoint, storeContract } from './contract.js';

const probe = await freshDatabase();
if ('skip' in probe) {
  test('postgres store', { skip: probe.skip }, () => {});
} else {
  await probe.drop();
  storeContract('postgres', async () => {
    const db = await freshDatabase();
    if ('skip' in db) throw new Error(db.skip);
    const open = async () => {
      const s = new PostgresStore(db.url);
      await s.migrate();
      return s;
    };
    return { store: await open(), reopen: open, cleanup: db.drop };
  });

  test('postgres: two replicas writing the same series and minute concurrently lose nothing', async () => {
    const db = await freshDatabase();
    if ('skip' in db) throw new Error(db.skip);
    const a = new PostgresStore(db.url);
    const b = new PostgresStore(db.url);
    try {
      await Promise.all([a.migrate(), b.migrate()]);
      const t = Date.UTC(2026, 10, 20, 10, 0, 30);
      const writes = [];
      for (let i = 0; i < 20; i++) writes.push((i % 2 ? a : b).write([histPoint('lat', { route: '/x' }, t, [0.1])]));
      await Promise.all(writes);
      const [s] = await a.listSeries(['lat']);
      const rows = await a.readRows([s.id], t - 60_000, t + 60_000, 'minute');
      assert.equal(rows.length, 1);
      assert.equal(rows[0].count, 20);
    } finally {
      await a.close();
      await b.close();
      await db.drop();
    }
  });
}
