// Real-user beacons (POST /v1/rum) → histogram points. A beacon is checked whole before anything of
// it is kept (a bad one is a 400 with its reason, none of it stored); its URL becomes a page template
// (configured patterns first, then ids, hashes and query strings taken out), its viewport a device
// class. Beacons are merged in memory into one histogram per service × page × device × metric and
// flushed as delta points: tens of thousands of beacons a second cost a few rows a minute.
import { ExpHistogram } from '../model/histogram.js';
import type { MetricPoint } from '../model/metrics.js';
import { ATTRIBUTED_METRIC, ATTRIBUTION_TARGET, PAGE_METRICS, WEB_VITALS, type RumBeacon, type WebVitalName } from '../model/rum.js';

export interface RumLimits {
  /** metrics in one beacon */
  metricsPerBeacon: number;
  /** distinct page templates per service; later ones are kept as "(other)" */
  pages: number;
  /** distinct services; later ones are kept as "(other)" */
  services: number;
  /** distinct attribution targets per service × page × vital; later ones are "(other)" */
  targets: number;
  /** characters kept of a URL, a target or a resource */
  valueLength: number;
}

export const OTHER = '(other)';
/** paths whose template is remembered */
const TEMPLATES = 10_000;
export type Device = 'mobile' | 'tablet' | 'desktop';

/** Why a beacon was refused: the counter's label and the answer's message. */
export class BeaconError extends Error {
  constructor(
    readonly reason: 'bad_json' | 'bad_beacon',
    message: string,
  ) {
    super(message);
  }
}

const VITALS = Object.keys(WEB_VITALS) as WebVitalName[];
/** Upper bounds past which a value is not a measurement: an hour for a time, 100 for CLS. */
const MAX_MS = 3_600_000;
const MAX_CLS = 100;

/**
 * Parses and checks a beacon: throws BeaconError; a beacon that passes is stored whole. It is checked
 * in place, not copied (tens of thousands arrive a second): what the aggregator reads is checked here,
 * and the rest — an attribution's other fields, ratings, ids — is never read.
 */
export function readBeacon(text: string, limits: RumLimits): RumBeacon {
  let b: unknown;
  try {
    b = JSON.parse(text);
  } catch (e) {
    throw new BeaconError('bad_json', `the beacon is not JSON: ${(e as Error).message}`);
  }
  if (!isObj(b)) throw bad('the beacon must be a JSON object');
  if (b.v !== 1) throw bad('v must be 1 (the beacon format version)');
  if (typeof b.url !== 'string' || !/^https?:\/\//i.test(b.url)) throw bad('url must be the page URL (http or https)');
  if (b.url.length > 2048) b.url = b.url.slice(0, 2048);
  if (b.service !== undefined && (typeof b.service !== 'string' || !/^[\w.-]{1,64}$/.test(b.service))) throw bad('service must be 1–64 letters, digits, ".", "_" or "-"');
  const metrics = b.metrics;
  if (!Array.isArray(metrics)) throw bad('metrics must be an array');
  if (metrics.length > limits.metricsPerBeacon) throw bad(`more than ${limits.metricsPerBeacon} metrics in one beacon`);
  for (const m of metrics) {
    if (!isObj(m) || typeof m.name !== 'string' || !Object.hasOwn(WEB_VITALS, m.name)) throw bad(`metric name must be one of ${VITALS.join(', ')}`);
    const max = m.name === 'CLS' ? MAX_CLS : MAX_MS;
    if (typeof m.value !== 'number' || !(m.value >= 0 && m.value <= max)) throw bad(`${m.name} value must be a number from 0 to ${max}`);
    if (m.attribution !== undefined && !isObj(m.attribution)) throw bad(`${m.name} attribution must be an object`);
  }
  const n = b.nav;
  if (n !== undefined) {
    if (!isObj(n)) throw bad('nav must be an object');
    ms(n.loadTime, 'loadTime');
    if (n.domContentLoaded !== undefined) ms(n.domContentLoaded, 'domContentLoaded');
    count(n.transferBytes, 'transferBytes');
    count(n.resources, 'resources');
  }
  if (metrics.length === 0 && n === undefined) throw bad('the beacon holds no metrics and no nav');
  if (b.device !== undefined && !isObj(b.device)) throw bad('device must be an object');
  return b as unknown as RumBeacon;
}

const bad = (m: string) => new BeaconError('bad_beacon', m);
function ms(v: unknown, field: string): void {
  if (typeof v !== 'number' || !(v >= 0 && v <= MAX_MS)) throw bad(`nav.${field} must be a number of ms from 0 to ${MAX_MS}`);
}
function count(v: unknown, field: string): void {
  if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 1e10)) throw bad(`nav.${field} must be a whole number`);
}

/** mobile below 768 CSS px of viewport, tablet below 1024, else desktop; without a viewport, by the user agent. */
export function deviceOf(device: RumBeacon['device']): Device {
  const w = device?.viewport;
  if (typeof w === 'number' && w > 0) return w < 768 ? 'mobile' : w < 1024 ? 'tablet' : 'desktop';
  const ua = typeof device?.userAgent === 'string' ? device.userAgent.slice(0, 512) : '';
  if (/iPad|Tablet/i.test(ua)) return 'tablet';
  return /Mobi|Android|iPhone/i.test(ua) ? 'mobile' : 'desktop';
}

/**
 * A path's template: the first configured pattern that matches ("/products/:id", "/blog/*"), else the
 * path with every segment that looks like an id (digits, a UUID, a long hex or base64-ish token, a
 * slug ending in digits) as ":id". The query string and fragment never reach a tag.
 */
export function pageTemplate(url: string, patterns: string[]): string {
  const path = pathOf(url);
  if (path === undefined) return OTHER;
  const segments = path.split('/').filter((s) => s !== '');
  for (const p of patterns) if (matches(p, segments)) return p;
  return '/' + segments.map((s) => (looksLikeId(s) ? ':id' : s)).join('/');
}

/** The URL's path: cut out by hand when it holds only URL characters (a browser's location.href does), else through URL. */
export function pathOf(url: string): string | undefined {
  const scheme = url.indexOf('://');
  if (scheme > 0) {
    const slash = url.indexOf('/', scheme + 3);
    if (slash < 0) return '/';
    let end = url.length;
    for (let i = slash; i < url.length; i++) {
      const c = url.charCodeAt(i);
      if (c === 0x3f || c === 0x23) {
        end = i;
        break;
      }
      if (!URL_CHAR[c]) return viaUrl(url);
    }
    return url.slice(slash, end);
  }
  return viaUrl(url);
}

function viaUrl(url: string): string | undefined {
  try {
    return new URL(url).pathname;
  } catch {
    return undefined;
  }
}

/** Characters that stand for themselves in a URL's path (RFC 3986 unreserved, sub-delims, ":", "@", "/", "%"). */
const URL_CHAR: boolean[] = Array.from({ length: 128 }, (_, c) => /[A-Za-z0-9\-._~!$&'()*+,;=:@/%]/.test(String.fromCharCode(c)));

function matches(pattern: string, segments: string[]): boolean {
  const parts = pattern.split('/').filter((s) => s !== '');
  for (let i = 0; i < parts.length; i++) {
    if (parts[i] === '*') return true;
    if (i >= segments.length) return false;
    if (!parts[i].startsWith(':') && parts[i] !== segments[i]) return false;
  }
  return parts.length === segments.length;
}

function looksLikeId(s: string): boolean {
  if (/^\d+$/.test(s)) return true;
  if (/^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i.test(s)) return true;
  if (/^[0-9a-f]{12,}$/i.test(s)) return true;
  if (s.length >= 16 && /\d/.test(s) && /^[\w-]+$/.test(s) && !/^[a-z]+(-[a-z]+)*$/i.test(s)) return true;
  return /^[a-z0-9-]*-\d+$/i.test(s) && s.length > 2;
}

interface Cell {
  metric: string;
  unit: string;
  service: string;
  attributes: Record<string, string>;
  hist: ExpHistogram;
  min: number;
  max: number;
}

/** Beacons merged per service × page × device × metric until flushed. */
export class RumAggregator {
  /** service, page, device (or attribution) → metric → its histogram: one string hashed per beacon, not per value */
  private cells = new Map<string, Map<string, Cell>>();
  private size = 0;
  private since: number;
  /** service → its page templates (at most limits.pages) */
  private readonly pages = new Map<string, Set<string>>();
  private readonly templates = new Map<string, string>();
  /** service|page|vital → its attribution targets (at most limits.targets) */
  private readonly targets = new Map<string, Set<string>>();
  /** beacons and values merged since the start */
  readonly counts = { beacons: 0, values: 0, otherPages: 0, otherServices: 0 };

  constructor(
    readonly limits: RumLimits,
    private readonly patterns: string[],
    now: number,
  ) {
    this.since = now;
  }

  add(b: RumBeacon): void {
    const service = this.service(b.service ?? 'web');
    const page = this.page(service, this.template(b.url));
    const device = deviceOf(b.device);
    const tags = { page, device };
    const base = `${service}\u001f${page}\u001f${device}\u001f`;
    for (const m of b.metrics) {
      const v = WEB_VITALS[m.name as WebVitalName];
      this.record(base, service, v.metric, v.unit, tags, m.value);
      const field = ATTRIBUTION_TARGET[m.name as WebVitalName];
      const target = field && m.attribution?.[field];
      if (typeof target === 'string' && target !== '') {
        const attributed: Record<string, string> = { page, vital: m.name, target: this.target(service, page, m.name, target) };
        const resource = m.name === 'LCP' ? m.attribution?.url : undefined;
        if (typeof resource === 'string' && resource !== '' && attributed.target !== OTHER) attributed.resource = resource.split(/[?#]/)[0].slice(0, this.limits.valueLength);
        this.record(`${service}\u001f${page}\u001f${m.name}\u001f${attributed.target}\u001f${attributed.resource ?? ''}`, service, ATTRIBUTED_METRIC, v.unit, attributed, m.value);
      }
    }
    if (b.nav) {
      const { loadTime, transferBytes, resources } = PAGE_METRICS;
      this.record(base, service, loadTime.metric, loadTime.unit, tags, b.nav.loadTime);
      if (b.nav.transferBytes !== undefined) this.record(base, service, transferBytes.metric, transferBytes.unit, tags, b.nav.transferBytes);
      if (b.nav.resources !== undefined) this.record(base, service, resources.metric, resources.unit, tags, b.nav.resources);
    }
    this.counts.beacons++;
  }

  /** What was merged since the last flush, as delta histogram points ending at `now`. */
  flush(now: number): MetricPoint[] {
    const out: MetricPoint[] = [];
    for (const c of [...this.cells.values()].flatMap((m) => [...m.values()])) {
      const h = c.hist;
      out.push({ metric: c.metric, kind: 'histogram', unit: c.unit, service: c.service, instance: 'browser', attributes: c.attributes, startTime: this.since, time: now, count: h.count, sum: h.sum, min: c.min, max: c.max, last: 0, hist: h.toData() });
    }
    this.cells = new Map();
    this.size = 0;
    this.since = now;
    return out;
  }

  get pending(): number {
    return this.size;
  }

  /** `key` names the cell with `metric`: the service and the attributes' values, joined. */
  private record(key: string, service: string, metric: string, unit: string, attributes: Record<string, string>, value: number): void {
    let byMetric = this.cells.get(key);
    if (!byMetric) this.cells.set(key, (byMetric = new Map()));
    let c = byMetric.get(metric);
    if (!c) {
      byMetric.set(metric, (c = { metric, unit, service, attributes, hist: new ExpHistogram(), min: value, max: value }));
      this.size++;
    }
    c.hist.record(value);
    if (value < c.min) c.min = value;
    if (value > c.max) c.max = value;
    this.counts.values++;
  }

  /** pageTemplate, remembered for the paths seen lately (at most TEMPLATES of them) */
  private template(url: string): string {
    const path = pathOf(url) ?? '';
    let t = this.templates.get(path);
    if (t === undefined) {
      if (this.templates.size >= TEMPLATES) this.templates.clear();
      t = pageTemplate(url, this.patterns);
      this.templates.set(path, t);
    }
    return t;
  }

  private service(name: string): string {
    if (this.pages.has(name) || this.pages.size < this.limits.services) return name;
    this.counts.otherServices++;
    return OTHER;
  }

  private page(service: string, template: string): string {
    let set = this.pages.get(service);
    if (!set) this.pages.set(service, (set = new Set()));
    if (set.has(template)) return template;
    if (set.size >= this.limits.pages) {
      this.counts.otherPages++;
      return OTHER;
    }
    set.add(template);
    return template;
  }

  private target(service: string, page: string, vital: string, target: string): string {
    const key = `${service}\u001f${page}\u001f${vital}`;
    let set = this.targets.get(key);
    if (!set) this.targets.set(key, (set = new Set()));
    const t = target.slice(0, this.limits.valueLength);
    if (set.has(t)) return t;
    if (set.size >= this.limits.targets) return OTHER;
    set.add(t);
    return t;
  }
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
