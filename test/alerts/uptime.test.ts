// Synthetic uptime checks against real local endpoints: stored as metrics, uptime % per check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { createServer } from '../../src/server/app.js';
import { runCheck } from '../../src/alerts/uptime.js';
import { SqliteStore } from '../../src/store/sqlite.js';
import { json, testConfig } from '../helpers.js';

async function listen(handler: http.RequestListener): Promise<{ url: string; close: () => void }> {
  const s = http.createServer(handler);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(s.address() as net.AddressInfo).port}`, close: () => s.close() };
}

test('runCheck: status, body, timeout and refused connections', async () => {
  const t = await listen((req, res) => {
    if (req.url === '/slow') return void setTimeout(() => res.end('late'), 500);
    res.statusCode = req.url === '/down' ? 503 : 200;
    res.end('all good');
  });
  try {
    assert.equal((await runCheck({ name: 'a', url: `${t.url}/`, interval: 1000, timeout: 1000, expectStatus: 200, expectBody: 'good' })).ok, true);
    assert.match((await runCheck({ name: 'b', url: `${t.url}/`, interval: 1000, timeout: 1000, expectStatus: 200, expectBody: 'great' })).error!, /body does not contain "great"/);
    assert.match((await runCheck({ name: 'c', url: `${t.url}/down`, interval: 1000, timeout: 1000, expectStatus: 200 })).error!, /status 503, expected 200/);
    assert.match((await runCheck({ name: 'd', url: `${t.url}/slow`, interval: 1000, timeout: 100, expectStatus: 200 })).error!, /no answer within 100 ms/);
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise((r) => closed.close(r));
    assert.equal((await runCheck({ name: 'e', url: `http://127.0.0.1:${port}/`, interval: 1000, timeout: 1000, expectStatus: 200 })).error, 'ECONNREFUSED');
  } finally {
    t.close();
  }
});

test('the server runs configured checks, stores them, reports uptime %, feeds the uptime SLO and the failure rule', async () => {
  let healthy = true;
  const t = await listen((_req, res) => {
    res.statusCode = healthy ? 200 : 500;
    res.end('ok');
  });
  const store = new SqliteStore(':memory:');
  await store.migrate();
  const s = await createServer({ config: testConfig({ alerting: { uptime: [{ name: 'shop', url: `${t.url}/healthz`, interval: 1000 }] } }), store });
  try {
    await new Promise((r) => setTimeout(r, 1300)); // the first check at start, a second after 1 s
    healthy = false;
    await new Promise((r) => setTimeout(r, 2000)); // two failed checks: the shipped rule wants more than one
    const body = await json(fetch(`${s.url}/api/uptime?window=1h`));
    const shop = body.checks[0];
    assert.equal(shop.name, 'shop');
    assert.ok(shop.checks >= 3, `${shop.checks} checks`);
    assert.ok(shop.uptimePercent > 0 && shop.uptimePercent < 100, `${shop.uptimePercent}%`);
    assert.equal(shop.last.ok, false);
    assert.match(shop.last.error, /status 500/);
    const slos = await json(fetch(`${s.url}/api/slos`));
    const uptime = slos.slos.find((x: { name: string }) => x.name === 'uptime');
    assert.equal(uptime.events, shop.checks);
    assert.ok(uptime.sli < 1);
    const cycle = await s.evaluateAlerts();
    assert.ok(cycle?.transitions.some((x) => x.instance.alert === 'UptimeCheckFailing' && x.instance.labels.check === 'shop'), JSON.stringify(s.alerts!.active().map((a) => a.alert)));
    assert.equal((await fetch(`${s.url}/api/uptime?window=soon`)).status, 400);
  } finally {
    await s.close();
    t.close();
  }
});
