// Notification channels (`alerting.channels`), each a string:
//   webhook:https://host/path              Alertmanager webhook format (version 4)
//   slack:https://hooks.slack.com/…        Slack incoming webhook
//   pagerduty:<routing key>[@<events URL>]  PagerDuty Events API v2 (trigger / resolve, stable dedup_key)
//   smtp://[user:pass@]host:port?from=a@x&to=b@y,c@z[&secure=true]   email through nodemailer
//   env:NAME                               the channel string is in environment variable NAME
// Secrets belong in the environment: `env:` keeps webhook tokens and SMTP passwords out of files.
import crypto from 'node:crypto';
import nodemailer from 'nodemailer';
import { PerfError } from '../errors.js';
import type { AlertInstance } from './state.js';

export interface Notification {
  receiver: string;
  groupKey: string;
  status: 'firing' | 'resolved';
  groupLabels: Record<string, string>;
  alerts: { status: 'firing' | 'resolved'; instance: AlertInstance }[];
  externalURL: string;
}

export interface Channel {
  /** what the channel is, without secrets (for the API and logs) */
  name: string;
  send(n: Notification): Promise<void>;
}

const PAGERDUTY_URL = 'https://events.pagerduty.com/v2/enqueue';

export function fingerprint(a: AlertInstance): string {
  return crypto.createHash('sha256').update(a.key).digest('hex').slice(0, 16);
}

const iso = (ms: number | undefined) => (ms === undefined ? '0001-01-01T00:00:00Z' : new Date(ms).toISOString());

/** The Alertmanager webhook payload (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config). */
export function alertmanagerPayload(n: Notification): object {
  const labelsOf = n.alerts.map((a) => a.instance.labels);
  const common = (maps: Record<string, string>[]) => Object.fromEntries(Object.entries(maps[0] ?? {}).filter(([k, v]) => maps.every((m) => m[k] === v)));
  return {
    version: '4',
    groupKey: n.groupKey,
    truncatedAlerts: 0,
    status: n.status,
    receiver: n.receiver,
    groupLabels: n.groupLabels,
    commonLabels: common(labelsOf),
    commonAnnotations: common(n.alerts.map((a) => a.instance.annotations)),
    externalURL: n.externalURL,
    alerts: n.alerts.map((a) => ({
      status: a.status,
      labels: a.instance.labels,
      annotations: a.instance.annotations,
      startsAt: iso(a.instance.firedAt ?? a.instance.activeAt),
      endsAt: a.status === 'resolved' ? iso(a.instance.resolvedAt) : '0001-01-01T00:00:00Z',
      generatorURL: `${n.externalURL}/api/alerts`,
      fingerprint: fingerprint(a.instance),
    })),
  };
}

function text(n: Notification): string {
  const head = `[${n.status.toUpperCase()}${n.status === 'firing' ? `:${n.alerts.filter((a) => a.status === 'firing').length}` : ''}] ${Object.values(n.groupLabels).join(' ') || n.alerts[0]?.instance.alert}`;
  const lines = n.alerts.map((a) => `${a.status === 'firing' ? '🔥' : '✅'} ${a.instance.alert} (${a.instance.labels.severity ?? 'warning'})${a.instance.annotations.summary ? `: ${a.instance.annotations.summary}` : ''}`);
  return [head, ...lines, `${n.externalURL}/api/alerts`].join('\n');
}

async function post(url: string, body: object): Promise<void> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
  const reply = await res.text().catch(() => '');
  if (!res.ok) throw new Error(`HTTP ${res.status}${reply ? `: ${reply.slice(0, 200)}` : ''}`);
}

const redact = (url: string) => {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname.length > 1 ? '/…' : ''}`;
  } catch {
    return 'invalid URL';
  }
};

export function parseChannel(spec: string, env: NodeJS.ProcessEnv = process.env): Channel {
  if (spec.startsWith('env:')) {
    const value = env[spec.slice(4)];
    if (!value) throw new PerfError('PERF_ERR_CONFIG', `alerting.channels: environment variable ${spec.slice(4)} is not set`);
    return parseChannel(value, env);
  }
  const i = spec.indexOf(':');
  const kind = i > 0 ? spec.slice(0, i) : spec;
  const rest = spec.slice(i + 1);
  switch (kind) {
    case 'webhook':
      return { name: `webhook ${redact(rest)}`, send: (n) => post(rest, alertmanagerPayload(n)) };
    case 'slack':
      return { name: `slack ${redact(rest)}`, send: (n) => post(rest, { text: text(n) }) };
    case 'pagerduty': {
      const at = rest.indexOf('@');
      const key = at > 0 ? rest.slice(0, at) : rest;
      const url = at > 0 ? rest.slice(at + 1) : PAGERDUTY_URL;
      if (!/^[A-Za-z0-9]{8,64}$/.test(key)) throw new PerfError('PERF_ERR_CONFIG', 'alerting.channels: a PagerDuty routing key is 8–64 letters and digits');
      return {
        name: `pagerduty ${redact(url)}`,
        // one event per alert: PagerDuty deduplicates and resolves by dedup_key
        send: async (n) => {
          for (const a of n.alerts) {
            await post(url, {
              routing_key: key,
              event_action: a.status === 'firing' ? 'trigger' : 'resolve',
              dedup_key: `solemate-${fingerprint(a.instance)}`,
              payload: { summary: (a.instance.annotations.summary ?? a.instance.alert).slice(0, 1024), source: a.instance.labels.service ?? a.instance.labels.instance ?? 'solemate-performance', severity: a.instance.labels.severity === 'critical' ? 'critical' : 'warning', timestamp: iso(a.instance.firedAt ?? a.instance.activeAt), custom_details: { labels: a.instance.labels, value: a.instance.value } },
            });
          }
        },
      };
    }
    case 'smtp':
    case 'smtps': {
      const u = new URL(spec);
      const from = u.searchParams.get('from');
      const to = u.searchParams.get('to');
      if (!from || !to) throw new PerfError('PERF_ERR_CONFIG', 'alerting.channels: an smtp channel needs ?from=…&to=…');
      const transport = nodemailer.createTransport({
        host: u.hostname,
        port: Number(u.port || (kind === 'smtps' ? 465 : 587)),
        secure: kind === 'smtps' || u.searchParams.get('secure') === 'true',
        auth: u.username ? { user: decodeURIComponent(u.username), pass: decodeURIComponent(u.password) } : undefined,
        tls: { rejectUnauthorized: u.searchParams.get('insecure') !== 'true' },
      });
      return {
        name: `email ${u.hostname}:${u.port} → ${to}`,
        send: async (n) => {
          await transport.sendMail({ from, to, subject: text(n).split('\n')[0], text: text(n) });
        },
      };
    }
    default:
      throw new PerfError('PERF_ERR_CONFIG', `alerting.channels: "${kind}" is not a channel (webhook:, slack:, pagerduty:, smtp://, env:)`);
  }
}
