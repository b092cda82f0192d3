// Notifications through real receivers: HTTP servers for the Alertmanager webhook, Slack and
// PagerDuty formats, and an SMTP server in process (smtp-server) for email.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { parseChannel } from '../../src/alerts/channels.js';
import { Dispatcher } from '../../src/alerts/dispatcher.js';
import type { AlertInstance, Transition } from '../../src/alerts/state.js';

const received: { path: string; body: Record<string, unknown> }[] = [];
const mails: string[] = [];
let failNext = 0;
const receiver = http.createServer((req, res) => {
  let body = '';
  req.on('data', (d) => (body += d));
  req.on('end', () => {
    if (req.url === '/down' || (req.url === '/flaky' && failNext-- > 0)) {
      res.statusCode = 503;
      return res.end('busy');
    }
    received.push({ path: req.url!, body: JSON.parse(body) });
    res.statusCode = req.url === '/pagerduty' ? 202 : 200;
    res.end('{}');
  });
});
const smtp = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  onData(stream, _session, cb) {
    let data = '';
    stream.on('data', (d) => (data += d));
    stream.on('end', () => (mails.push(data), cb()));
  },
});
let base = '';
let smtpPort = 0;
before(async () => {
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
  await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', r));
  smtpPort = (smtp.server.address() as AddressInfo).port;
});
after(async () => {
  receiver.close();
  await new Promise<void>((r) => smtp.close(() => r()));
});

function alert(name: string, labels: Record<string, string>, t: number): AlertInstance {
  const all = { alertname: name, severity: 'warning', ...labels };
  return { key: `${name}${JSON.stringify(labels)}`, ruleId: `r/${name}`, alert: name, labels: all, annotations: { summary: `${name} is bad` }, phase: 'firing', value: 42, activeAt: t, firedAt: t, lastTrueAt: t, updatedAt: t };
}
const fire = (a: AlertInstance, at: number): Transition => ({ kind: 'firing', instance: a, at });
const resolve = (a: AlertInstance, at: number): Transition => ({ kind: 'resolved', instance: { ...a, phase: 'resolved', resolvedAt: at }, at });
const S = 1000;

test('grouping, group_wait, group_interval, resolved, repeat — to webhook, Slack, PagerDuty and email', async () => {
  received.length = 0;
  mails.length = 0;
  const channels = [`webhook:${base}/hook`, `slack:${base}/slack`, `pagerduty:R0UTINGKEY123@${base}/pagerduty`, `smtp://127.0.0.1:${smtpPort}?from=perf@shop.test&to=oncall@shop.test&insecure=true`].map((c) => parseChannel(c));
  const d = new Dispatcher({ channels, groupWaitMs: 30 * S, groupIntervalMs: 60 * S, repeatIntervalMs: 600 * S });
  const a = alert('SlowRoute', { route: '/a' }, 0);
  const b = alert('SlowRoute', { route: '/b' }, 1 * S);
  d.notify(fire(a, 0));
  d.notify(fire(b, 1 * S));
  d.tick(10 * S);
  await d.idle();
  assert.equal(received.length, 0, 'waiting group_wait');
  d.tick(30 * S);
  await d.idle();
  const hook = received.filter((r) => r.path === '/hook');
  assert.equal(hook.length, 1, 'one notification for the group');
  const am = hook[0].body as { version: string; status: string; groupLabels: object; commonLabels: object; alerts: { status: string; labels: { route: string }; startsAt: string; fingerprint: string }[] };
  assert.equal(am.version, '4');
  assert.equal(am.status, 'firing');
  assert.deepEqual(am.groupLabels, { alertname: 'SlowRoute' });
  assert.deepEqual(am.commonLabels, { alertname: 'SlowRoute', severity: 'warning' });
  assert.deepEqual(am.alerts.map((x) => x.labels.route), ['/a', '/b']);
  assert.equal(am.alerts[0].startsAt, new Date(0).toISOString());
  assert.match(am.alerts[0].fingerprint, /^[0-9a-f]{16}$/);
  assert.match(String(received.find((r) => r.path === '/slack')?.body.text), /^\[FIRING:2\] SlowRoute/);
  const pd = received.filter((r) => r.path === '/pagerduty').map((r) => r.body as { routing_key: string; event_action: string; dedup_key: string; payload: { severity: string } });
  assert.equal(pd.length, 2, 'one PagerDuty event per alert');
  assert.equal(pd[0].routing_key, 'R0UTINGKEY123');
  assert.equal(pd[0].event_action, 'trigger');
  assert.equal(pd[0].payload.severity, 'warning');
  assert.equal(mails.length, 1);
  assert.match(mails[0], /To: oncall@shop\.test/);
  assert.match(mails[0], /Subject: \[FIRING:2\] SlowRoute/);

  received.length = 0;
  d.tick(40 * S);
  await d.idle();
  assert.equal(received.length, 0, 'nothing changed');
  d.notify(resolve(a, 50 * S));
  d.tick(60 * S);
  await d.idle();
  assert.equal(received.length, 0, 'group_interval not over yet');
  d.tick(90 * S);
  await d.idle();
  const second = received.find((r) => r.path === '/hook')!.body as { status: string; alerts: { status: string; labels: { route: string } }[] };
  assert.equal(second.status, 'firing', 'b still fires');
  assert.deepEqual(second.alerts.map((x) => [x.labels.route, x.status]), [['/a', 'resolved'], ['/b', 'firing']]);
  const pdResolve = received.filter((r) => r.path === '/pagerduty').map((r) => r.body as { event_action: string; dedup_key: string });
  assert.deepEqual(pdResolve.map((x) => x.event_action).sort(), ['resolve', 'trigger']);
  assert.equal(pdResolve.find((x) => x.event_action === 'resolve')!.dedup_key, pd[0].dedup_key, 'stable dedup_key resolves the same incident');

  received.length = 0;
  d.tick(200 * S);
  await d.idle();
  assert.equal(received.length, 0);
  d.tick(690 * S);
  await d.idle();
  assert.equal(received.filter((r) => r.path === '/hook').length, 1, 'repeat_interval re-sends a group that still fires');
  assert.ok(d.deliveries().every((x) => x.ok));
});

test('silences mute matching alerts; a firing critical inhibits the warning of the same objective', async () => {
  received.length = 0;
  const d = new Dispatcher({ channels: [parseChannel(`webhook:${base}/hook`)], groupBy: ['alertname'], groupWaitMs: 0 });
  const now = 1_000_000;
  const s = d.addSilence({ matchers: [{ name: 'alertname', op: '=~', value: 'Muted.*' }], startsAt: now - 1, endsAt: now + 3_600_000, createdBy: 'ana', comment: 'deploying' });
  d.notify(fire(alert('MutedThing', {}, now), now));
  d.notify(fire(alert('LatencyCritical', { objective: 'latency', severity: 'critical' }, now), now));
  d.notify(fire(alert('LatencyWarning', { objective: 'latency' }, now), now));
  d.notify(fire(alert('ErrorsWarning', { objective: 'errors' }, now), now));
  d.tick(now);
  await d.idle();
  const names = received.flatMap((r) => (r.body as { alerts: { labels: { alertname: string } }[] }).alerts.map((x) => x.labels.alertname)).sort();
  assert.deepEqual(names, ['ErrorsWarning', 'LatencyCritical']);
  assert.ok(d.expireSilence(s.id, now + 10));
  assert.throws(() => d.addSilence({ matchers: [], startsAt: 0, endsAt: 1, createdBy: 'x', comment: '' }), /at least one matcher/);
  assert.throws(() => d.addSilence({ matchers: [{ name: 'a', op: '=~', value: '(' }], startsAt: 0, endsAt: 1, createdBy: 'x', comment: '' }));
});

test('a channel that is down is retried with backoff; every attempt is visible, the final failure too', async () => {
  received.length = 0;
  failNext = 2;
  const d = new Dispatcher({ channels: [parseChannel(`webhook:${base}/flaky`), parseChannel(`webhook:${base}/down`)], groupWaitMs: 0, attempts: 3, baseBackoffMs: 20, maxBackoffMs: 50 });
  d.notify(fire(alert('X', {}, 0), 0));
  d.tick(0);
  await d.idle();
  const flaky = d.deliveries().filter((x) => x.channel.includes('127.0.0.1'));
  assert.equal(received.filter((r) => r.path === '/flaky').length, 1, 'delivered on the third attempt');
  const byChannel = (ok: boolean) => flaky.filter((x) => x.ok === ok);
  assert.equal(byChannel(true).length, 1);
  assert.equal(byChannel(false).length, 2 + 3, 'two failures before success, three on the dead channel');
  const last = d.deliveries().at(-1)!;
  assert.ok(d.deliveries().some((x) => !x.ok && x.final && /HTTP 503: busy/.test(x.error ?? '')), 'the dead channel gave up, and says why');
  assert.ok(last.final);
});

test('channel strings: env indirection, redacted names, bad specs refused', () => {
  assert.equal(parseChannel('env:HOOK', { HOOK: 'slack:https://hooks.slack.com/services/T0/B0/secret' }).name, 'slack https://hooks.slack.com/…');
  assert.throws(() => parseChannel('env:NOPE', {}), /NOPE is not set/);
  assert.throws(() => parseChannel('carrier-pigeon:coo'), /is not a channel/);
  assert.throws(() => parseChannel('pagerduty:x'), /routing key/);
  assert.throws(() => parseChannel('smtp://mail.test:25'), /needs \?from/);
  assert.ok(!parseChannel('smtp://u:hunter2@mail.test:25?from=a@b&to=c@d').name.includes('hunter2'));
});

test('an acknowledged alert is not repeated; its group still reports changes', async () => {
  received.length = 0;
  const d = new Dispatcher({ channels: [parseChannel(`webhook:${base}/hook`)], groupWaitMs: 0, groupIntervalMs: 10 * S, repeatIntervalMs: 100 * S });
  const a = alert('Acked', { route: '/a' }, 0);
  d.notify(fire(a, 0));
  d.tick(0);
  await d.idle();
  assert.equal(received.length, 1);
  const { fingerprint } = await import('../../src/alerts/channels.js');
  d.restoreAcks([fingerprint(a)]);
  d.tick(150 * S);
  await d.idle();
  assert.equal(received.length, 1, 'no repeat for an acknowledged alert');
  d.notify(resolve(a, 160 * S));
  d.tick(170 * S);
  await d.idle();
  assert.equal(received.length, 2, 'its resolution still goes out');
  assert.equal((received[1].body as { status: string }).status, 'resolved');
});
