// From firing/resolved transitions to notifications, the Alertmanager way:
//  - alerts are grouped by `groupBy` labels; a new group waits `groupWait` so alerts that fire
//    together go out together; later changes go out at most every `groupInterval`; a group still
//    firing is re-sent every `repeatInterval`; resolved alerts go out once, then leave the group
//  - silences (matchers on labels, a time range, author, comment) mute matching alerts
//  - inhibition: a firing source alert (default: severity=critical) mutes target alerts (default:
//    severity=warning) whose `equal` labels have the same values
//  - acknowledged alerts are not repeated (they still go out when their group changes or they resolve)
//  - every channel is retried with exponential backoff and jitter; every attempt's outcome is kept
//    (deliveries()), so a failing channel is visible and nothing is dropped silently
// Time is driven by tick(now), called by the server every second (and by tests directly).
import crypto from 'node:crypto';
import { fingerprint, type Channel, type Notification } from './channels.js';
import type { AlertInstance, Transition } from './state.js';

export interface Matcher {
  name: string;
  value: string;
  /** "=" equal, "!=" not equal, "=~" regular expression (anchored), "!~" not matching */
  op: '=' | '!=' | '=~' | '!~';
}

export interface Silence {
  id: string;
  matchers: Matcher[];
  startsAt: number;
  endsAt: number;
  createdBy: string;
  comment: string;
}

export interface InhibitRule {
  source: Record<string, string>;
  target: Record<string, string>;
  equal: string[];
}

export interface DispatcherOptions {
  channels: Channel[];
  groupBy?: string[];
  groupWaitMs?: number;
  groupIntervalMs?: number;
  repeatIntervalMs?: number;
  inhibit?: InhibitRule[];
  /** attempts per channel and notification (default 6: about a minute of retries) */
  attempts?: number;
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  externalURL?: string;
  receiver?: string;
}

export interface Delivery {
  at: number;
  channel: string;
  groupKey: string;
  status: 'firing' | 'resolved';
  alerts: number;
  attempt: number;
  ok: boolean;
  error?: string;
  /** no more attempts will be made (succeeded, or gave up) */
  final: boolean;
}

interface Member {
  instance: AlertInstance;
  status: 'firing' | 'resolved';
  /** a notification has carried this alert as firing: only then is its resolution sent */
  announced: boolean;
}

interface Group {
  key: string;
  labels: Record<string, string>;
  members: Map<string, Member>;
  createdAt: number;
  lastSentAt: number | undefined;
  changed: boolean;
}

export const DEFAULT_INHIBIT: InhibitRule[] = [{ source: { severity: 'critical' }, target: { severity: 'warning' }, equal: ['objective', 'service', 'instance', 'route'] }];

const equalKey = (rule: InhibitRule, labels: Record<string, string>) => JSON.stringify(rule.equal.map((k) => labels[k] ?? ''));

export function matches(labels: Record<string, string>, m: Matcher): boolean {
  const v = labels[m.name] ?? '';
  switch (m.op) {
    case '=':
      return v === m.value;
    case '!=':
      return v !== m.value;
    case '=~':
      return new RegExp(`^(?:${m.value})$`).test(v);
    case '!~':
      return !new RegExp(`^(?:${m.value})$`).test(v);
  }
}

export class Dispatcher {
  private readonly groups = new Map<string, Group>();
  private readonly log: Delivery[] = [];
  private readonly silenceList: Silence[] = [];
  /** fingerprints of acknowledged alerts: not repeated while they keep firing */
  private acked = new Set<string>();
  private readonly inflight = new Set<Promise<void>>();
  private readonly o: Required<Omit<DispatcherOptions, 'channels'>> & { channels: Channel[] };

  constructor(options: DispatcherOptions) {
    this.o = {
      groupBy: ['alertname'],
      groupWaitMs: 30_000,
      groupIntervalMs: 300_000,
      repeatIntervalMs: 4 * 3_600_000,
      inhibit: DEFAULT_INHIBIT,
      attempts: 6,
      baseBackoffMs: 1000,
      maxBackoffMs: 30_000,
      externalURL: 'http://127.0.0.1:4318',
      receiver: 'solemate-performance',
      ...options,
    };
  }

  /** Takes a firing or resolved transition from the evaluator. */
  notify(t: Transition): void {
    const labels = Object.fromEntries(this.o.groupBy.map((k) => [k, t.instance.labels[k] ?? '']));
    const key = JSON.stringify(labels);
    let g = this.groups.get(key);
    if (!g) {
      if (t.kind === 'resolved') return; // never notified as firing: nothing to resolve
      this.groups.set(key, (g = { key, labels, members: new Map(), createdAt: t.at, lastSentAt: undefined, changed: true }));
    }
    // an alert this group never announced (silenced, inhibited) resolves without a notification
    g.members.set(t.instance.key, { instance: t.instance, status: t.kind, announced: g.members.get(t.instance.key)?.announced ?? t.kind === 'resolved' });
    g.changed = true;
  }

  addSilence(s: Omit<Silence, 'id'>): Silence {
    if (s.matchers.length === 0) throw new RangeError('a silence needs at least one matcher');
    for (const m of s.matchers) if (m.op.includes('~')) new RegExp(m.value); // throws on a bad pattern
    if (!(s.endsAt > s.startsAt)) throw new RangeError('a silence must end after it starts');
    const silence = { ...s, id: crypto.randomUUID() };
    this.silenceList.push(silence);
    return silence;
  }

  expireSilence(id: string, now: number): boolean {
    const s = this.silenceList.find((x) => x.id === id);
    if (!s) return false;
    s.endsAt = Math.min(s.endsAt, now);
    return true;
  }

  /** Replaces the silences with the stored ones (at start, and each cycle when replicas share a store). */
  restoreSilences(list: Silence[]): void {
    this.silenceList.splice(0, this.silenceList.length, ...list);
  }

  restoreAcks(fingerprints: Iterable<string>): void {
    this.acked = new Set(fingerprints);
  }

  silences(): Silence[] {
    return [...this.silenceList];
  }

  silencedBy(labels: Record<string, string>, now: number): Silence | undefined {
    return this.silenceList.find((s) => s.startsAt <= now && now < s.endsAt && s.matchers.every((m) => matches(labels, m)));
  }

  /**
   * Per inhibit rule, the `equal` label values of the firing alerts that are its sources: built once
   * per tick (or listing), so checking an alert is a lookup, not a scan of every other alert.
   */
  inhibitors(): Set<string>[] {
    const firing = [...this.groups.values()].flatMap((g) => [...g.members.values()]).filter((m) => m.status === 'firing');
    return this.o.inhibit.map((rule) => new Set(firing.filter((m) => Object.entries(rule.source).every(([k, v]) => m.instance.labels[k] === v)).map((m) => equalKey(rule, m.instance.labels))));
  }

  /** A firing source alert with equal values on the rule's `equal` labels mutes this one. */
  inhibited(labels: Record<string, string>, index: Set<string>[] = this.inhibitors()): boolean {
    return this.o.inhibit.some((rule, i) => Object.entries(rule.target).every(([k, v]) => labels[k] === v) && index[i].has(equalKey(rule, labels)));
  }

  deliveries(): Delivery[] {
    return [...this.log];
  }

  /** Resolves when every delivery started so far has finished (succeeded or given up). */
  async idle(): Promise<void> {
    while (this.inflight.size) await Promise.all([...this.inflight]);
  }

  tick(now: number): void {
    let index: Set<string>[] | undefined;
    for (const g of [...this.groups.values()]) {
      const due =
        g.lastSentAt === undefined ? now - g.createdAt >= this.o.groupWaitMs : g.changed ? now - g.lastSentAt >= this.o.groupIntervalMs : now - g.lastSentAt >= this.o.repeatIntervalMs && [...g.members.values()].some((m) => m.status === 'firing');
      if (due) this.flush(g, now, (index ??= this.inhibitors()));
    }
  }

  private flush(g: Group, now: number, index: Set<string>[]): void {
    const repeat = g.lastSentAt !== undefined && !g.changed;
    const out = [...g.members.values()].filter((m) =>
      m.status === 'resolved' ? m.announced && !this.silencedBy(m.instance.labels, now) : !this.silencedBy(m.instance.labels, now) && !this.inhibited(m.instance.labels, index) && !(repeat && this.acked.has(fingerprint(m.instance))),
    );
    for (const m of out) if (m.status === 'firing') m.announced = true;
    g.lastSentAt = now;
    g.changed = false;
    // resolved members leave the group once this notification has carried them
    for (const [k, m] of g.members) if (m.status === 'resolved') g.members.delete(k);
    if (g.members.size === 0 && out.every((m) => m.status === 'resolved')) this.groups.delete(g.key);
    if (out.length === 0) return;
    const n: Notification = {
      receiver: this.o.receiver,
      groupKey: `{}:${g.key}`,
      status: out.some((m) => m.status === 'firing') ? 'firing' : 'resolved',
      groupLabels: g.labels,
      alerts: out.map((m) => ({ status: m.status, instance: m.instance })),
      externalURL: this.o.externalURL,
    };
    for (const ch of this.o.channels) {
      const p = this.deliver(ch, n).finally(() => this.inflight.delete(p));
      this.inflight.add(p);
    }
  }

  private async deliver(ch: Channel, n: Notification): Promise<void> {
    for (let attempt = 1; attempt <= this.o.attempts; attempt++) {
      const record = (ok: boolean, error?: string) => {
        this.log.push({ at: Date.now(), channel: ch.name, groupKey: n.groupKey, status: n.status, alerts: n.alerts.length, attempt, ok, error, final: ok || attempt === this.o.attempts });
        if (this.log.length > 500) this.log.shift();
      };
      try {
        await ch.send(n);
        record(true);
        return;
      } catch (e) {
        record(false, (e as Error).message);
        if (attempt === this.o.attempts) return;
        const cap = Math.min(this.o.maxBackoffMs, this.o.baseBackoffMs * 2 ** (attempt - 1));
        await new Promise((r) => setTimeout(r, cap / 2 + (Math.random() * cap) / 2));
      }
    }
  }
}
