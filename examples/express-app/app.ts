// A minimal instrumented Express app: one middleware line plus the SDK. Used by the end-to-end
// test and as the smallest example of wiring SoleMate Performance into a service.
//   npm start                                  # the performance server, in one terminal
//   node --import tsx examples/express-app/app.ts   # this app on :3000, in another
import { pathToFileURL } from 'node:url';
import express from 'express';
import { createPerformanceService, expressMetrics, type PerformanceService } from '../../src/index.js';

export function createApp(perf: PerformanceService): express.Express {
  const app = express();
  app.use(expressMetrics(perf));
  const products = express.Router();
  // ?delay=<ms> simulates work so latency is known to the caller
  products.get('/:id', (req, res) => {
    const delay = Math.min(Number(req.query.delay ?? 0) || 0, 10_000);
    setTimeout(() => res.json({ id: req.params.id, name: `Runner ${req.params.id}` }), delay);
  });
  app.use('/products', products);
  app.post('/checkout', (_req, res) => {
    const started = performance.now();
    perf.recordCounter('orders.placed', 1, { channel: 'web' });
    perf.recordTiming('checkout', performance.now() - started, { channel: 'web' });
    res.status(201).json({ ok: true });
  });
  app.get('/fail', (_req, res) => void res.status(503).json({ error: 'temporarily unavailable' }));
  return app;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const perf = createPerformanceService({ service: 'example-shop' });
  const port = Number(process.env.PORT ?? 3000);
  createApp(perf).listen(port, () => console.log(`example shop on http://127.0.0.1:${port}, sending metrics to ${perf.config.sdk.endpoint}`));
}
