// The hot path. Work happens at configuration time: an instrument resolves a tag set to a series
// once, a bound handle is that series, and record() is a range check plus a few additions.
// Nothing here throws into the app: bad values, names and tags are dropped, counted, warned once.
// This file holds the Recorder (options, instrument registry, drop counters, collection); the
// instruments are in instruments.ts and the series they resolve tag sets to in series.ts.
import type { MetricKind, MetricPoint } from '../model/metrics.js';
import { Instrument, type InstrumentOwner, type MetricInstrument } from './instruments.js';
import { DroppingSeries, type DropReason } from './series.js';

export interface RecorderOptions {
  /** Series per metric before new tag sets go to the overflow series (OpenTelemetry's default is 2000). */
  cardinalityLimit?: number;
  /** Collections without data before an unbound series is forgotten (frees cardinality). */
  idleCollections?: number;
  service?: string;
  instance?: string;
  /** Called once per drop reason; default: process.emitWarning. */
  onWarning?: (code: string, message: string) => void;
}

const NAME_RE = /^[A-Za-z][A-Za-z0-9_.\-/]{0,254}$/;

/** Holds the instruments of one process and collects their deltas. */
export class Recorder implements InstrumentOwner {
  readonly service: string;
  readonly instance: string;
  readonly dropped: Record<DropReason, number> = {
    invalid_value: 0,
    invalid_name: 0,
    invalid_tag: 0,
    kind_conflict: 0,
    export_buffer_full: 0,
    export_failed: 0,
  };
  private readonly reported = new Set<DropReason>();
  overflowed = 0;
  private readonly instruments = new Map<string, Instrument>();
  private readonly limit: number;
  private readonly idleCollections: number;
  private readonly onWarning: (code: string, message: string) => void;
  private lastCollect = Date.now();
  private readonly reportedDrops: Record<DropReason, number> = { ...this.dropped };

  constructor(options: RecorderOptions = {}) {
    this.limit = options.cardinalityLimit ?? 2000;
    this.idleCollections = options.idleCollections ?? 30;
    this.service = options.service ?? process.env.OTEL_SERVICE_NAME ?? 'unknown_service:node';
    this.instance = options.instance ?? `${process.pid}@${process.env.HOSTNAME ?? 'localhost'}`;
    this.onWarning = options.onWarning ?? ((code, message) => process.emitWarning(message, { code }));
  }

  histogram(name: string, options: { unit?: string; description?: string } = {}): MetricInstrument {
    return this.instrument(name, 'histogram', options);
  }
  counter(name: string, options: { unit?: string; description?: string } = {}): MetricInstrument {
    return this.instrument(name, 'counter', options);
  }
  gauge(name: string, options: { unit?: string; description?: string } = {}): MetricInstrument {
    return this.instrument(name, 'gauge', options);
  }

  private instrument(name: string, kind: MetricKind, options: { unit?: string; description?: string }): MetricInstrument {
    const existing = this.instruments.get(name);
    if (existing) {
      if (existing.kind === kind) return existing;
      return this.dropping('kind_conflict', `metric "${name}" is a ${existing.kind}; recording it as a ${kind} is dropped`);
    }
    if (typeof name !== 'string' || !NAME_RE.test(name)) {
      return this.dropping('invalid_name', `metric name ${JSON.stringify(String(name)).slice(0, 80)} is invalid (letters, digits, _ . - /, starting with a letter, ≤ 255 chars); its records are dropped`);
    }
    const inst = new Instrument(name, kind, options.unit ?? '', options.description ?? '', this, this.limit);
    this.instruments.set(name, inst);
    return inst;
  }

  private dropping(reason: DropReason, message: string): MetricInstrument {
    this.warnOnce(reason, message);
    const sink = new DroppingSeries(this, reason);
    return { name: '', kind: 'counter', record: () => sink.record(), bind: () => sink };
  }

  drop(reason: DropReason): void {
    this.dropped[reason]++;
    if (!this.reported.has(reason)) this.warnOnce(reason, `solemate-performance dropped a record (${reason}); further drops are counted in solemate.sdk.dropped`);
  }

  private warnOnce(reason: DropReason, message: string): void {
    if (this.reported.has(reason)) return;
    this.reported.add(reason);
    try {
      this.onWarning(`PERF_W_${reason.toUpperCase()}`, message);
    } catch {
      // a warning handler that throws must not reach the app
    }
  }

  /** Delta collection: every series with data since the last call yields one point and is reset. */
  collect(now = Date.now()): MetricPoint[] {
    const out: MetricPoint[] = [];
    const start = this.lastCollect;
    this.lastCollect = now;
    for (const inst of this.instruments.values()) inst.collect(start, now, out, this.idleCollections);
    for (const reason of Object.keys(this.dropped) as DropReason[]) {
      const delta = this.dropped[reason] - this.reportedDrops[reason];
      if (delta > 0) {
        this.reportedDrops[reason] = this.dropped[reason];
        out.push({ metric: 'solemate.sdk.dropped', kind: 'counter', unit: '{record}', service: this.service, instance: this.instance, attributes: { reason }, startTime: start, time: now, count: delta, sum: delta, min: 0, max: 0, last: 0 });
      }
    }
    return out;
  }

  get instrumentNames(): string[] {
    return [...this.instruments.keys()];
  }
}
