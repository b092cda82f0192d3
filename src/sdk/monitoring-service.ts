// The PRD's PerformanceMonitoringService, as a client of the performance server:
// getPerformanceStatus, getPerformanceAlerts, createPerformanceAlert, updatePerformanceAlert,
// getPerformanceDashboard. Mutating calls send the token from SOLEMATE_PERF_INGEST_TOKEN.
import { PerfError } from '../errors.js';
import type { PerformanceAlert } from '../alerts/rules.js';
import type { AlertInstance } from '../alerts/state.js';
import type { PerformanceStatus } from '../query/status.js';

export interface PerformanceAlertState {
  rules: { id: string; alert: string; group: string; file: string; severity: string }[];
  active: AlertInstance[];
  ruleErrors: Record<string, string>;
}

export type PerformanceDashboard = Record<string, unknown> & { generatedAt: string; status: PerformanceStatus };

export class PerformanceMonitoringService {
  private readonly base: string;
  private readonly headers: Record<string, string>;

  constructor(options: { url?: string; token?: string; timeoutMs?: number } = {}) {
    this.base = (options.url ?? process.env.SOLEMATE_PERF_URL ?? 'http://127.0.0.1:4318').replace(/\/+$/, '');
    const token = options.token ?? process.env.SOLEMATE_PERF_INGEST_TOKEN;
    this.headers = token ? { authorization: `Bearer ${token}` } : {};
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  private readonly timeoutMs: number;

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, { method, headers: { ...this.headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (e) {
      throw new PerfError('PERF_ERR_UNREACHABLE', `cannot reach the performance server at ${this.base}: ${(e as Error).message}`);
    }
    const data = (await res.json().catch(() => ({}))) as T & { message?: string; code?: string };
    if (!res.ok) throw new PerfError(res.status === 404 ? 'PERF_ERR_NOT_FOUND' : res.status === 401 ? 'PERF_ERR_UNAUTHORIZED' : res.status < 500 ? 'PERF_ERR_BAD_REQUEST' : 'PERF_ERR_UNREACHABLE', `${method} ${path}: ${data.message ?? `HTTP ${res.status}`}`);
    return data;
  }

  getPerformanceStatus(): Promise<PerformanceStatus> {
    return this.call('GET', '/api/status');
  }

  getPerformanceAlerts(): Promise<PerformanceAlertState> {
    return this.call('GET', '/api/alerts');
  }

  async createPerformanceAlert(alert: PerformanceAlert): Promise<void> {
    await this.call('POST', '/api/alerts/rules', alert);
  }

  async updatePerformanceAlert(alertId: string, alert: PerformanceAlert): Promise<void> {
    await this.call('PUT', `/api/alerts/rules/${encodeURIComponent(alertId)}`, alert);
  }

  getPerformanceDashboard(): Promise<PerformanceDashboard> {
    return this.call('GET', '/api/dashboard');
  }
}
