import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FingerprintCache, fingerprint, sanitizeSql } from '../../src/instrument/sql.js';

test('literals become ?, bind parameters and identifiers stay', () => {
  assert.equal(sanitizeSql("SELECT * FROM customers WHERE email = 'ann@example.com' AND id = 42"), 'SELECT * FROM customers WHERE email = ? AND id = ?');
  assert.equal(sanitizeSql('SELECT "Order"."total" FROM "Order" WHERE id = $1 AND price > 9.99e-1'), 'SELECT "Order"."total" FROM "Order" WHERE id = $1 AND price > ?');
  assert.equal(sanitizeSql('select  a1,\n\t b_2   from t2'), 'select a1, b_2 from t2', 'whitespace collapses; digits inside names are not literals');
});

test('every string form is removed: quotes doubled, E-escapes, dollar quoting, hex and bit strings', () => {
  assert.equal(sanitizeSql("SELECT 'it''s', E'a\\'b', $$x ' y$$, $tag$z$tag$, X'1F', B'101'"), 'SELECT ?, ?, ?, ?, ?, ?');
  assert.ok(!sanitizeSql("INSERT INTO cards VALUES ('4111 1111 1111 1111')").includes('4111'));
});

test('comments are dropped, nested block comments too', () => {
  assert.equal(sanitizeSql('SELECT 1 -- secret 123\nFROM t /* a /* nested */ 5 */ WHERE x = 2'), 'SELECT ? FROM t WHERE x = ?');
});

test('lists fold so a different number of items is the same statement', () => {
  const a = sanitizeSql('SELECT * FROM p WHERE id IN (1, 2, 3)');
  assert.equal(a, 'SELECT * FROM p WHERE id IN (...)');
  assert.equal(sanitizeSql('SELECT * FROM p WHERE id IN ($1,$2,$3,$4)'), a);
  assert.equal(sanitizeSql("INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y'), (3, 'z')"), 'INSERT INTO t (a, b) VALUES (...)');
  assert.equal(sanitizeSql('INSERT INTO t (a) VALUES ($1), ($2)'), 'INSERT INTO t (a) VALUES (...)');
});

test('fingerprint names the operation and the first table', () => {
  assert.deepEqual(fingerprint('select * from public.products p join brands b on b.id = p.brand_id where p.id = 7'), { text: 'select * from public.products p join brands b on b.id = p.brand_id where p.id = ?', operation: 'SELECT', collection: 'public.products' });
  assert.equal(fingerprint('UPDATE stock SET qty = qty - 1 WHERE sku = $1').collection, 'stock');
  assert.equal(fingerprint('INSERT INTO orders (id) VALUES ($1)').collection, 'orders');
  assert.equal(fingerprint('BEGIN').collection, undefined);
  assert.equal(fingerprint('').operation, 'UNKNOWN');
});

test('very long statements are cut, and the cache stays bounded', () => {
  const long = `SELECT ${Array.from({ length: 2000 }, (_, i) => `c${i}`).join(', ')} FROM t`;
  assert.ok(sanitizeSql(long).length <= 1024);
  const cache = new FingerprintCache(10);
  for (let i = 0; i < 25; i++) cache.get(`SELECT ${i}`);
  assert.equal(cache.get('SELECT 99').text, 'SELECT ?');
  assert.ok((cache as unknown as { map: Map<string, unknown> }).map.size <= 10);
});
