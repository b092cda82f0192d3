// The SoleMate shop: storefront, catalog search and filters, product pages, cart, checkout, order
// history. Express on PostgreSQL, Redis optional (sessions' carts and the facets cache). The faults
// in faults.ts change what these handlers do; nothing else does.
import crypto from 'node:crypto';
import compression from 'compression';
import express, { type NextFunction, type Request, type Response } from 'express';
import type pg from 'pg';
import type { Redis } from 'ioredis';
import { buildAssets } from './assets.js';
import type { Faults } from './faults.js';
import { productImage } from './images.js';

export interface ShopOptions {
  pool: pg.Pool;
  faults: Faults;
  redis?: Redis;
  /** read-through cache for facets when the fault is off (Redis-backed when Redis is configured) */
  cache?: { getOrLoad<T>(key: string, load: () => Promise<T>, ttlMs?: number): Promise<T> };
  /** mounted before everything else (the SoleMate optimization middleware) */
  first?: (req: Request, res: Response, next: NextFunction) => void;
  /** the performance server's real-user snippet (…/rum.js), put in every HTML page's head */
  rumScript?: string;
}

const PAGE_SIZE = 24;
const esc = (s: unknown) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const money = (cents: number) => `$${(cents / 100).toFixed(2)}`;

/** Wraps async handlers so a rejection reaches Express's error handler. */
const h = (fn: (req: Request, res: Response) => Promise<unknown>) => (req: Request, res: Response, next: NextFunction) => void fn(req, res).catch(next);

function int(v: unknown, name: string, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw Object.assign(new Error(`${name} must be an integer from ${min} to ${max}`), { status: 400 });
  return n;
}

export function createShopApp(o: ShopOptions): express.Express {
  const { pool, faults } = o;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  if (o.first) app.use(o.first);
  if (!faults.uncompressed) app.use(compression());
  app.use(express.json({ limit: '64kb' }));

  // --- static assets --------------------------------------------------------------------------
  const assets = buildAssets(!faults.unsplitBundle);
  const staticHeaders = (res: Response) => {
    if (!faults.noCacheHeaders) res.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
  };
  for (const [path, body] of assets.files) {
    app.get(path, (_req, res) => {
      staticHeaders(res);
      res.type('application/javascript').send(body);
    });
  }
  const imageSize = faults.oversizedImages ? 1200 : 300;
  app.get('/images/products/:id.png', (req, res) => {
    const id = int(req.params.id, 'id');
    staticHeaders(res);
    res.type('image/png').send(productImage(id, imageSize));
  });

  // --- sessions (cookie → cart) ---------------------------------------------------------------
  const memoryCarts = new Map<string, Record<string, number>>();
  const sessionId = (req: Request, res: Response): string => {
    const m = /(?:^|;\s*)sid=([a-f0-9]{32})/.exec(req.headers.cookie ?? '');
    if (m) return m[1];
    const sid = crypto.randomBytes(16).toString('hex');
    res.setHeader('Set-Cookie', `sid=${sid}; Path=/; HttpOnly; SameSite=Lax`);
    return sid;
  };
  const getCart = async (sid: string): Promise<Record<string, number>> => {
    if (o.redis) return (await o.redis.hgetall(`cart:${sid}`)) as unknown as Record<string, number>;
    return memoryCarts.get(sid) ?? {};
  };

  // --- catalog ----------------------------------------------------------------------------------
  const categories = async () => (await pool.query('SELECT id, name, slug FROM categories ORDER BY id')).rows;

  interface Search {
    category?: number;
    brand?: number;
    q?: string;
    minPrice?: number;
    maxPrice?: number;
    sort: 'price' | 'price_desc' | 'newest';
    page: number;
  }
  const parseSearch = (q: Record<string, unknown>): Search => ({
    category: q.category === undefined ? undefined : int(q.category, 'category'),
    brand: q.brand === undefined ? undefined : int(q.brand, 'brand'),
    q: typeof q.q === 'string' && q.q.trim() ? q.q.trim().slice(0, 100) : undefined,
    minPrice: q.minPrice === undefined ? undefined : int(q.minPrice, 'minPrice', 0),
    maxPrice: q.maxPrice === undefined ? undefined : int(q.maxPrice, 'maxPrice', 0),
    sort: q.sort === 'price_desc' || q.sort === 'newest' ? q.sort : 'price',
    page: q.page === undefined ? 1 : int(q.page, 'page', 1, 1000),
  });
  /** The hot catalog query: a category's products by price, filtered. */
  const search = async (s: Search) => {
    const where: string[] = [];
    const args: unknown[] = [];
    const arg = (v: unknown) => (args.push(v), `$${args.length}`);
    if (s.category !== undefined) where.push(`p.category_id = ${arg(s.category)}`);
    if (s.brand !== undefined) where.push(`p.brand_id = ${arg(s.brand)}`);
    if (s.q) where.push(`p.name ILIKE ${arg(`%${s.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`)}`);
    if (s.minPrice !== undefined) where.push(`p.price_cents >= ${arg(s.minPrice)}`);
    if (s.maxPrice !== undefined) where.push(`p.price_cents <= ${arg(s.maxPrice)}`);
    const order = s.sort === 'price_desc' ? 'p.price_cents DESC, p.id' : s.sort === 'newest' ? 'p.created_at DESC, p.id' : 'p.price_cents, p.id';
    const { rows } = await pool.query(
      `SELECT p.id, p.name, p.price_cents, p.stock, b.name AS brand
         FROM products p JOIN brands b ON b.id = p.brand_id
        ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY ${order} LIMIT ${arg(PAGE_SIZE)} OFFSET ${arg((s.page - 1) * PAGE_SIZE)}`,
      args,
    );
    return rows;
  };

  app.get('/api/categories', h(async (_req, res) => res.json(await categories())));
  app.get('/api/products', h(async (req, res) => res.json({ products: await search(parseSearch(req.query)) })));
  app.get(
    '/api/products/:id',
    h(async (req, res) => {
      const { rows } = await pool.query('SELECT p.*, b.name AS brand, c.name AS category FROM products p JOIN brands b ON b.id = p.brand_id JOIN categories c ON c.id = p.category_id WHERE p.id = $1', [int(req.params.id, 'id')]);
      if (!rows[0]) return res.status(404).json({ error: 'no such product' });
      res.json(rows[0]);
    }),
  );

  /** Brand counts, price bands and sizes of a category: a full aggregate over its products. */
  const computeFacets = async (category: number) => {
    const [brands, prices, sizes] = await Promise.all([
      pool.query('SELECT b.id, b.name, count(*)::int AS n FROM products p JOIN brands b ON b.id = p.brand_id WHERE p.category_id = $1 GROUP BY b.id, b.name ORDER BY n DESC', [category]),
      pool.query('SELECT width_bucket(price_cents, 0, 30000, 6) AS band, count(*)::int AS n, min(price_cents) AS lo, max(price_cents) AS hi FROM products WHERE category_id = $1 GROUP BY band ORDER BY band', [category]),
      pool.query('SELECT s AS size, count(*)::int AS n FROM products, unnest(sizes) s WHERE category_id = $1 AND stock > 0 GROUP BY s ORDER BY s', [category]),
    ]);
    return { category, brands: brands.rows, priceBands: prices.rows, sizes: sizes.rows };
  };
  app.get(
    '/api/facets',
    h(async (req, res) => {
      const category = int(req.query.category ?? 1, 'category');
      const facets = faults.uncachedFacets || !o.cache ? await computeFacets(category) : await o.cache.getOrLoad(`facets:${category}`, () => computeFacets(category), 60_000);
      res.json(facets);
    }),
  );

  // --- cart and checkout ------------------------------------------------------------------------
  app.post(
    '/api/cart/items',
    h(async (req, res) => {
      const sid = sessionId(req, res);
      const productId = int(req.body?.productId, 'productId');
      const size = int(req.body?.size, 'size', 30, 50);
      const quantity = int(req.body?.quantity ?? 1, 'quantity', 1, 10);
      const { rows } = await pool.query('SELECT id, stock, $2 = ANY(sizes) AS has_size FROM products WHERE id = $1', [productId, size]);
      if (!rows[0]) return res.status(404).json({ error: 'no such product' });
      if (!rows[0].has_size) return res.status(400).json({ error: `size ${size} is not made for this product` });
      const field = `${productId}:${size}`;
      if (o.redis) {
        await o.redis.hincrby(`cart:${sid}`, field, quantity);
        await o.redis.pexpire(`cart:${sid}`, 7 * 86_400_000);
      } else {
        const cart = memoryCarts.get(sid) ?? {};
        cart[field] = (cart[field] ?? 0) + quantity;
        memoryCarts.set(sid, cart);
      }
      res.status(201).json({ items: await getCart(sid) });
    }),
  );
  app.get('/api/cart', h(async (req, res) => res.json({ items: await getCart(sessionId(req, res)) })));

  app.post(
    '/api/checkout',
    h(async (req, res) => {
      const sid = sessionId(req, res);
      const customerId = int(req.body?.customerId, 'customerId');
      const cart = await getCart(sid);
      const lines = Object.entries(cart).map(([k, q]) => {
        const [productId, size] = k.split(':').map(Number);
        return { productId, size, quantity: Number(q) };
      });
      if (lines.length === 0) return res.status(400).json({ error: 'the cart is empty' });
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        let total = 0;
        const priced = [];
        for (const l of lines) {
          const { rows } = await client.query('UPDATE products SET stock = stock - $2 WHERE id = $1 AND stock >= $2 RETURNING price_cents', [l.productId, l.quantity]);
          if (!rows[0]) {
            await client.query('ROLLBACK');
            return res.status(409).json({ error: `product ${l.productId} is out of stock` });
          }
          total += rows[0].price_cents * l.quantity;
          priced.push({ ...l, price: rows[0].price_cents });
        }
        const order = await client.query("INSERT INTO orders (customer_id, status, total_cents, created_at) VALUES ($1, 'processing', $2, now()) RETURNING id", [customerId, total]);
        const orderId = order.rows[0].id;
        await client.query('INSERT INTO order_items (order_id, product_id, size, quantity, price_cents) SELECT $1, * FROM unnest($2::int[], $3::int[], $4::int[], $5::int[])', [orderId, priced.map((p) => p.productId), priced.map((p) => p.size), priced.map((p) => p.quantity), priced.map((p) => p.price)]);
        await client.query('COMMIT');
        if (o.redis) await o.redis.del(`cart:${sid}`);
        else memoryCarts.delete(sid);
        res.status(201).json({ orderId, totalCents: total });
      } catch (e) {
        await client.query('ROLLBACK').catch(() => {});
        // an unknown customer (the scenario draws ids for the default catalog size)
        if ((e as { code?: string }).code === '23503') return res.status(400).json({ error: `no customer ${customerId}` });
        throw e;
      } finally {
        client.release();
      }
    }),
  );

  // --- customers and order history ------------------------------------------------------------
  app.get(
    '/api/customers/:id',
    h(async (req, res) => {
      const { rows } = await pool.query('SELECT id, name, email, created_at FROM customers WHERE id = $1', [int(req.params.id, 'id')]);
      if (!rows[0]) return res.status(404).json({ error: 'no such customer' });
      res.json(rows[0]);
    }),
  );
  app.get(
    '/api/customers/:id/orders',
    h(async (req, res) => {
      const id = int(req.params.id, 'id');
      if (faults.nPlusOne) {
        // one query for the orders, then one per order for its items, then one per item for its product
        const orders = (await pool.query('SELECT id, status, total_cents, created_at FROM orders WHERE customer_id = $1 ORDER BY created_at DESC LIMIT 50', [id])).rows;
        for (const order of orders) {
          order.items = (await pool.query('SELECT product_id, size, quantity, price_cents FROM order_items WHERE order_id = $1 ORDER BY id', [order.id])).rows;
          for (const item of order.items) item.name = (await pool.query('SELECT name FROM products WHERE id = $1', [item.product_id])).rows[0]?.name;
        }
        return res.json({ orders });
      }
      const { rows } = await pool.query(
        `SELECT o.id, o.status, o.total_cents, o.created_at,
                coalesce(json_agg(json_build_object('product_id', i.product_id, 'size', i.size, 'quantity', i.quantity, 'price_cents', i.price_cents, 'name', p.name) ORDER BY i.id) FILTER (WHERE i.id IS NOT NULL), '[]') AS items
           FROM (SELECT * FROM orders WHERE customer_id = $1 ORDER BY created_at DESC LIMIT 50) o
           LEFT JOIN order_items i ON i.order_id = o.id LEFT JOIN products p ON p.id = i.product_id
          GROUP BY o.id, o.status, o.total_cents, o.created_at ORDER BY o.created_at DESC`,
        [id],
      );
      res.json({ orders: rows });
    }),
  );

  // --- HTML pages -------------------------------------------------------------------------------
  // real users' Web Vitals, reported to the performance server (solemate-performance/browser)
  const rum = o.rumScript ? `<script src="${esc(o.rumScript)}" data-service="solemate-shop-web" defer></script>` : '';
  const page = (title: string, body: string) => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)} · SoleMate</title>
<style>body{font-family:system-ui,sans-serif;margin:0;color:#222}header{display:flex;gap:1rem;align-items:center;padding:1rem 2rem;background:#111;color:#fff}
header a{color:#fff;text-decoration:none}nav{display:flex;flex-wrap:wrap;gap:.5rem;padding:.5rem 2rem;background:#f4f4f4}main{padding:1rem 2rem}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(220px,1fr));gap:1rem}.card{border:1px solid #ddd;border-radius:8px;padding:.75rem}
.card img{width:100%;height:auto;aspect-ratio:1}main img{max-width:100%;height:auto}.price{font-weight:600}</style>
${assets.headTags}${rum}</head>
<body><header><a href="/"><strong>SoleMate</strong></a><span style="flex:1"></span><a href="/cart">Cart (<span id="cart-count">0</span>)</a></header>
${body}${assets.bodyTags}</body></html>`;
  const img = (id: number, alt: string, index: number) => {
    const lazy = !faults.noLazyImages && index >= 8 ? ' loading="lazy" decoding="async"' : '';
    const dims = faults.noLazyImages ? '' : ' width="300" height="300"';
    return `<img src="/images/products/${id}.png" alt="${esc(alt)}"${dims}${lazy}>`;
  };

  app.get(
    '/',
    h(async (req, res) => {
      const s = parseSearch({ ...req.query, category: req.query.category ?? 1 });
      const [cats, products] = await Promise.all([categories(), search(s)]);
      const nav = `<nav>${cats.map((c) => `<a href="/?category=${c.id}">${esc(c.name)}</a>`).join('')}</nav>`;
      const grid = products.map((p, i) => `<div class="card"><a href="/products/${p.id}">${img(p.id, p.name, i)}</a><div>${esc(p.brand)} ${esc(p.name)}</div><div class="price">${money(p.price_cents)}</div><a href="#" data-add="${p.id}">Add to cart</a></div>`).join('');
      res.type('html').send(page('Shoes', `${nav}<main><h1>${esc(cats.find((c) => c.id === s.category)?.name ?? 'Shoes')}</h1><div class="grid">${grid}</div></main>`));
    }),
  );
  app.get(
    '/products/:id',
    h(async (req, res) => {
      const id = int(req.params.id, 'id');
      const { rows } = await pool.query('SELECT p.*, b.name AS brand FROM products p JOIN brands b ON b.id = p.brand_id WHERE p.id = $1', [id]);
      const p = rows[0];
      if (!p) return res.status(404).type('html').send(page('Not found', '<main><h1>No such shoe</h1></main>'));
      const related = (await pool.query('SELECT id, name, price_cents FROM products WHERE category_id = $1 AND id <> $2 ORDER BY price_cents, id LIMIT 8', [p.category_id, id])).rows;
      const body = `<main><div class="grid"><div>${img(p.id, p.name, 0)}</div><div><h1>${esc(p.brand)} ${esc(p.name)}</h1><p class="price">${money(p.price_cents)}</p>
<p>${esc(p.description)}</p><p>Sizes: ${p.sizes.map((s: number) => esc(s)).join(', ')} · ${p.stock > 0 ? `${p.stock} in stock` : 'sold out'}</p>
<a href="#" data-add="${p.id}">Add to cart</a> · <a href="#" data-reviews="${p.id}">Reviews</a></div></div>
<h2>You may also like</h2><div class="grid">${related.map((r, i) => `<div class="card"><a href="/products/${r.id}">${img(r.id, r.name, i + 8)}</a><div>${esc(r.name)}</div><div class="price">${money(r.price_cents)}</div></div>`).join('')}</div></main>`;
      res.type('html').send(page(`${p.brand} ${p.name}`, body));
    }),
  );

  app.get('/healthz', (_req, res) => res.json({ ok: true }));

  app.use((err: Error & { status?: number }, _req: Request, res: Response, _next: NextFunction) => {
    const status = err.status && err.status < 500 ? err.status : 500;
    if (status === 500) console.error('shop error:', err);
    res.status(status).json({ error: status === 500 ? 'internal error' : err.message });
  });
  return app;
}
