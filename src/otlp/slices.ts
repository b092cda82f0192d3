// An OTLP export request cut into slices of at most N data points (or spans), each in the shape that
// decodeMetricsRequest / decodeTracesRequest return, so that a large request can be decoded and stored
// a slice at a time with the event loop free in between (one decode of 50k points blocked ~400 ms).
// Only the containers (request, resource, scope, metric) are walked here; the containers' own fields
// and each point or span are decoded by protobufjs's generated decoders at their true depth, so field
// semantics (unknown fields skipped, a message sent twice merged, the last member of a oneof kept,
// the recursion limit of 100) are those of one whole decode, and the slices hold exactly its data.
import protobuf from 'protobufjs';
import { ExportMetricsServiceRequest, ExportTraceServiceRequest } from './proto.js';

type Type = protobuf.Type;
type Reader = protobuf.Reader;
type Message = protobuf.Message;
type Json = Record<string, unknown>;
type Part = [start: number, end: number];
type Field = { no: number; wire: number; tag: number; start: number; end: number };
type Decode = (r: Reader, length: number, group: undefined, depth: number, into?: Message) => Message;

const LEN = 2; // wire type of length-delimited fields
const OPTIONS: protobuf.IConversionOptions = { longs: String, enums: Number, bytes: String, defaults: false, oneofs: false };
const SPAN_OPTIONS: protobuf.IConversionOptions = { ...OPTIONS, bytes: Array };
const ID_FIELDS = ['traceId', 'spanId', 'parentSpanId'];
const type = (name: string): Type => ExportMetricsServiceRequest.lookupType(`otlp.${name}`);
const METRIC = type('Metric');
const SPAN = type('Span');
/** Metric.data (a oneof) by field number: the JSON key, the kind's type, and its points' type (field 1 of the kind). */
const KINDS: Record<number, [key: string, kind: Type, point: Type]> = {
  5: ['gauge', type('Gauge'), type('NumberDataPoint')],
  7: ['sum', type('Sum'), type('NumberDataPoint')],
  9: ['histogram', type('Histogram'), type('HistogramDataPoint')],
  10: ['exponentialHistogram', type('ExponentialHistogram'), type('ExponentialHistogramDataPoint')],
  11: ['summary', type('Summary'), type('SummaryDataPoint')],
};
const JSON_KINDS = ['gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary']; // the order OtlpMetricsReader tries them
/** The containers above a metric (or span): the message type, its children's JSON key and field number. */
type Level = { type: Type; key: string; no: number };
const METRIC_LEVELS: Level[] = [
  { type: ExportMetricsServiceRequest, key: 'resourceMetrics', no: 1 },
  { type: type('ResourceMetrics'), key: 'scopeMetrics', no: 2 },
  { type: type('ScopeMetrics'), key: 'metrics', no: 2 },
];
const TRACE_LEVELS: Level[] = [
  { type: ExportTraceServiceRequest, key: 'resourceSpans', no: 1 },
  { type: type('ResourceSpans'), key: 'scopeSpans', no: 2 },
  { type: type('ScopeSpans'), key: 'spans', no: 2 },
];

/** Data points in a protobuf ExportMetricsServiceRequest, counted without decoding them. Throws on malformed framing. */
export function countMetricsProto(bytes: Uint8Array): number {
  const r = protobuf.Reader.create(bytes);
  let n = 0;
  const metric = (start: number, end: number) => {
    const kind = kindOf(r, [start, end]);
    if (kind.no) eachChild(r, [kind.from, end], 3, kind.no, (ks, ke) => eachChild(r, [ks, ke], 4, 1, () => n++));
  };
  eachChild(r, [0, bytes.length], 0, 1, (s, e) => eachChild(r, [s, e], 1, 2, (s2, e2) => eachChild(r, [s2, e2], 2, 2, metric)));
  return n;
}

/** Spans in a protobuf ExportTraceServiceRequest, counted without decoding them. Throws on malformed framing. */
export function countTracesProto(bytes: Uint8Array): number {
  const r = protobuf.Reader.create(bytes);
  let n = 0;
  eachChild(r, [0, bytes.length], 0, 1, (s, e) => eachChild(r, [s, e], 1, 2, (s2, e2) => eachChild(r, [s2, e2], 2, 2, () => n++)));
  return n;
}

/**
 * decodeMetricsRequest(bytes) in slices of at most maxPoints data points (a metric, scope or resource
 * without any counts as one), in order; a metric cut between slices is repeated with its share of the
 * points. Slices share their resource and scope objects: read them, do not change them.
 */
export function* sliceMetricsProto(bytes: Uint8Array, maxPoints: number): Generator<object> {
  const s = new Slicer(maxPoints);
  yield* walk(protobuf.Reader.create(bytes), METRIC_LEVELS, 0, [0, bytes.length], s, OPTIONS, (r, part) => metric(r, part, s));
  yield s.end();
}

/** decodeTracesRequest(bytes) in slices of at most maxSpans spans; see sliceMetricsProto. */
export function* sliceTracesProto(bytes: Uint8Array, maxSpans: number): Generator<object> {
  const s = new Slicer(maxSpans);
  yield* walk(protobuf.Reader.create(bytes), TRACE_LEVELS, 0, [0, bytes.length], s, SPAN_OPTIONS, (r, [start, end]) => s.place(span(decodeAt(SPAN, r, start, end, 3))));
  yield s.end();
}

/** Data points in a parsed OTLP/JSON metrics request, counted as OtlpMetricsReader finds them (a missing list counts 0). */
export function countMetricsJson(request: unknown): number {
  let n = 0;
  for (const rm of list(request, 'resourceMetrics')) for (const sm of list(rm, 'scopeMetrics')) for (const m of list(sm, 'metrics')) {
    const kind = jsonKind(m);
    if (kind) n += list((m as Json)[kind], 'dataPoints').length;
  }
  return n;
}

/** Spans in a parsed OTLP/JSON traces request. */
export function countTracesJson(request: unknown): number {
  let n = 0;
  for (const rs of list(request, 'resourceSpans')) for (const ss of list(rs, 'scopeSpans')) n += list(ss, 'spans').length;
  return n;
}

/** Per signal, the count and the slicing of a parsed OTLP/JSON request. */
export const JSON_SIGNALS = {
  metrics: { count: countMetricsJson, slice: sliceMetricsJson },
  traces: { count: countTracesJson, slice: sliceTracesJson },
};

/**
 * A parsed OTLP/JSON metrics request in slices of at most maxPoints points, by array slicing. Nothing is
 * validated: a container whose list is not an array is passed whole, as one unit, for the reader to
 * judge, and a request without a resourceMetrics array is yielded unchanged.
 */
export function* sliceMetricsJson(request: unknown, maxPoints: number): Generator<object> {
  yield* sliceJson(request, ['resourceMetrics', 'scopeMetrics', 'metrics'], maxPoints, function* (m, s) {
    const kind = jsonKind(m);
    const holder = kind ? (m as Json)[kind] : undefined;
    if (!isObj(holder) || !Array.isArray(holder.dataPoints)) return yield* s.place(m);
    s.enter(() => {
      const node = copyWith(holder, 'dataPoints');
      return { value: { ...(m as Json), [kind as string]: node.value }, list: node.list };
    });
    for (const point of holder.dataPoints) yield* s.place(point);
    yield* s.exit();
  });
}

/** A parsed OTLP/JSON traces request in slices of at most maxSpans spans; see sliceMetricsJson. */
export function* sliceTracesJson(request: unknown, maxSpans: number): Generator<object> {
  yield* sliceJson(request, ['resourceSpans', 'scopeSpans', 'spans'], maxSpans, (span, s) => s.place(span));
}

// ---- the slicer: where each point goes ----

/** A container as it appears in one slice: its JSON value, the list its children go to, and what to remove when it has none. */
type Node = { value: Json; list: unknown[]; drop?: () => void };
type Frame = { make: () => Node; node?: Node; used: boolean };

/** Builds slices from a depth-first walk: enter a container, add its children, exit it. */
class Slicer {
  private readonly frames: Frame[] = [];
  private readonly max: number;
  private units = 0;
  private root?: Json;

  constructor(max: number) {
    if (!(Math.floor(max) >= 1)) throw new RangeError(`slice size must be at least 1, not ${max}`);
    this.max = Math.floor(max);
  }

  enter(make: () => Node): void {
    this.frames.push({ make, used: false });
  }

  /** Puts one point (or span) into the innermost container, after yielding the current slice if it is full. */
  *place(item: unknown): Generator<object> {
    yield* this.room();
    this.attach(this.frames.length - 1).list.push(item);
    this.units++;
  }

  /** Leaves the innermost container. One that never held anything still goes out (as one unit), as a whole decode keeps it. */
  *exit(): Generator<object> {
    const i = this.frames.length - 1;
    if (!this.frames[i].used) {
      yield* this.room();
      this.attach(i).drop?.();
      this.units++;
    }
    this.frames.pop();
  }

  /** The last slice (every request gives at least one). */
  end(): object {
    return this.root ?? {};
  }

  private *room(): Generator<object> {
    if (this.units < this.max) return;
    const full = this.root ?? {};
    this.root = undefined;
    for (const f of this.frames) f.node = undefined;
    this.units = 0;
    yield full;
  }

  private attach(i: number): Node {
    const f = this.frames[i];
    if (!f.node) {
      f.node = f.make();
      if (i > 0) this.attach(i - 1).list.push(f.node.value);
      else this.root = f.node.value;
    }
    f.used = true;
    return f.node;
  }
}

// ---- protobuf: walking the containers ----

function* walk(r: Reader, levels: Level[], i: number, part: Part, s: Slicer, opts: protobuf.IConversionOptions, inner: (r: Reader, part: Part) => Generator<object>): Generator<object> {
  if (i === levels.length) return yield* inner(r, part);
  const { type, key, no } = levels[i];
  const head = type.toObject(header(r, type, [part], i, (f) => f.no === no && f.wire === LEN), opts);
  s.enter(() => ordered(type, head, key));
  for (const child of children(r, part, i, no)) yield* walk(r, levels, i + 1, child, s, opts, inner);
  yield* s.exit();
}

/** One metric (depth 3): its own fields, then its kind's fields merged over the kind's occurrences, then its points (depth 5). */
function* metric(r: Reader, part: Part, s: Slicer): Generator<object> {
  const head = METRIC.toObject(header(r, METRIC, [part], 3, (f) => f.wire === LEN && KINDS[f.no] !== undefined), OPTIONS);
  const { no, from } = kindOf(r, part);
  if (!no) {
    s.enter(() => ({ value: { ...head }, list: [] }));
    return yield* s.exit();
  }
  const [key, kind, point] = KINDS[no];
  const occurrences = [...children(r, [from, part[1]], 3, no)];
  const kindHead = kind.toObject(header(r, kind, occurrences, 4, (f) => f.no === 1 && f.wire === LEN), OPTIONS);
  s.enter(() => {
    const list: unknown[] = [];
    const holder: Json = { dataPoints: list, ...kindHead };
    return { value: { ...head, [key]: holder }, list, drop: () => delete holder.dataPoints };
  });
  for (const occurrence of occurrences) {
    for (const [start, end] of children(r, occurrence, 4, 1)) yield* s.place(point.toObject(decodeAt(point, r, start, end, 5), OPTIONS));
  }
  yield* s.exit();
}

/** The last kind sent wins (Metric.data is a oneof): its number, and where its last run of occurrences starts. */
function kindOf(r: Reader, part: Part): { no: number; from: number } {
  let no = 0;
  let from = part[1];
  scan(r, part, 3, (f) => {
    if (f.wire === LEN && KINDS[f.no] !== undefined && f.no !== no) [no, from] = [f.no, f.tag];
  });
  return { no, from };
}

/** A container's fields other than its children, decoded field by field into one message (merged like a whole decode). */
function header(r: Reader, type: Type, parts: Part[], depth: number, isChild: (f: Field) => boolean): Message {
  const m = type.create();
  for (const part of parts) scan(r, part, depth, (f) => void (isChild(f) || decodeAt(type, r, f.tag, f.end, depth, m)));
  return m;
}

/** protobufjs's generated decoders take the nesting depth (for their recursion limit) and a message to merge into. */
function decodeAt(type: Type, r: Reader, start: number, end: number, depth: number, into?: Message): Message {
  r.pos = start;
  r.len = end;
  return (type.decode as unknown as Decode).call(type, r, end - start, undefined, depth, into);
}

function ordered(type: Type, head: Json, key: string): Node {
  const value: Json = {};
  const list: unknown[] = [];
  for (const { name } of type.fieldsArray) {
    if (name === key) value[key] = list;
    else if (name in head) value[name] = head[name];
  }
  return { value, list, drop: () => delete value[key] };
}

function span(m: Message): Json {
  const s = SPAN.toObject(m, SPAN_OPTIONS);
  for (const k of ID_FIELDS) if (Array.isArray(s[k])) s[k] = Buffer.from(s[k] as number[]).toString('hex');
  return s;
}

// ---- protobuf: the wire format ----

/** Reads the field at pos: its tag, and its value's bounds if length-delimited (others are skipped, checked). Never reads past end. */
function readField(r: Reader, pos: number, end: number, depth: number, f: Field): void {
  r.pos = pos;
  r.len = end;
  f.tag = pos;
  const tag = r.tag();
  f.no = tag >>> 3;
  f.wire = tag & 7;
  if (f.wire === LEN && f.no !== 0) {
    const size = r.size();
    f.start = r.pos;
    f.end = f.start + size;
    if (f.end > end) throw new RangeError(`index out of range: ${f.start} + ${size} > ${end}`);
  } else {
    r.skipType(f.wire, depth, f.no); // throws on field 0, bad wire types, unterminated groups
    f.start = pos;
    f.end = r.pos;
  }
}

function scan(r: Reader, [start, end]: Part, depth: number, fn: (f: Field) => void): void {
  const f: Field = { no: 0, wire: 0, tag: 0, start: 0, end: 0 };
  for (let pos = start; pos < end; pos = f.end) {
    readField(r, pos, end, depth, f);
    fn(f);
  }
}

function eachChild(r: Reader, part: Part, depth: number, no: number, fn: (start: number, end: number) => void): void {
  scan(r, part, depth, (f) => void (f.no === no && f.wire === LEN && fn(f.start, f.end)));
}

/** The children lazily: the reader is repositioned at each step, so the caller may use it in between. */
function* children(r: Reader, [start, end]: Part, depth: number, no: number): Generator<Part> {
  const f: Field = { no: 0, wire: 0, tag: 0, start: 0, end: 0 };
  for (let pos = start; pos < end; pos = f.end) {
    readField(r, pos, end, depth, f);
    if (f.no === no && f.wire === LEN) yield [f.start, f.end];
  }
}

// ---- JSON ----

function* sliceJson(request: unknown, keys: string[], max: number, inner: (item: unknown, s: Slicer) => Generator<object>): Generator<object> {
  const s = new Slicer(max);
  if (!isObj(request) || !Array.isArray(request[keys[0]])) return yield request as object;
  const level = function* (obj: unknown, i: number): Generator<object> {
    if (i === keys.length) return yield* inner(obj, s);
    const items = isObj(obj) ? obj[keys[i]] : undefined;
    if (!isObj(obj) || !Array.isArray(items)) return yield* s.place(obj);
    s.enter(() => copyWith(obj, keys[i]));
    for (const item of items) yield* level(item, i + 1);
    yield* s.exit();
  };
  yield* level(request, 0);
  yield s.end();
}

/** A shallow copy of obj (same key order) whose `key` is a new list. */
function copyWith(obj: Json, key: string): Node {
  const value: Json = {};
  const list: unknown[] = [];
  for (const k of Object.keys(obj)) value[k] = k === key ? list : obj[k];
  return { value, list };
}

/** The kind OtlpMetricsReader reads: the first of JSON_KINDS that is an object. */
function jsonKind(m: unknown): string | undefined {
  return isObj(m) ? JSON_KINDS.find((k) => isObj(m[k])) : undefined;
}

function list(obj: unknown, key: string): unknown[] {
  const v = isObj(obj) ? obj[key] : undefined;
  return Array.isArray(v) ? v : [];
}

function isObj(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
