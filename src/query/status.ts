// getPerformanceStatus: each monitoring threshold checked against the measured value. A check warns
// at alerting.thresholds.warning × threshold and is critical at alerting.thresholds.critical ×.
import type { PerformanceConfig } from '../config/schema.js';
import type { PerformanceMetrics } from './metrics.js';

export type Health = 'healthy' | 'warning' | 'critical' | 'unknown';

export interface StatusCheck {
  name: 'responseTime' | 'errorRate' | 'cpuUsage' | 'memoryUsage';
  value: number | null;
  unit: 'ms' | '%';
  warningAt: number;
  criticalAt: number;
  status: Health;
  source: string;
}

export interface PerformanceStatus {
  status: Health;
  evaluatedAt: string;
  window: { from: string; to: string };
  checks: StatusCheck[];
  metrics: PerformanceMetrics;
}

const RANK: Record<Health, number> = { unknown: 0, healthy: 1, warning: 2, critical: 3 };

export function computeStatus(metrics: PerformanceMetrics, config: PerformanceConfig, now: number): PerformanceStatus {
  const t = config.monitoring.thresholds;
  const { warning, critical } = config.alerting.thresholds;
  const check = (name: StatusCheck['name'], value: number | null, threshold: number, unit: StatusCheck['unit'], source: string): StatusCheck => {
    const warningAt = threshold * warning;
    const criticalAt = threshold * critical;
    const status: Health = value === null ? 'unknown' : value >= criticalAt ? 'critical' : value >= warningAt ? 'warning' : 'healthy';
    return { name, value, unit, warningAt, criticalAt, status, source };
  };
  const checks = [
    check('responseTime', metrics.responseTime.average, t.responseTime, 'ms', 'average of http.server.request.duration'),
    check('errorRate', metrics.errorRate.percentage, t.errorRate, '%', 'requests with status ≥ 500 or error.type / all requests'),
    check('cpuUsage', metrics.resourceUsage.cpu, t.cpuUsage, '%', 'average process.cpu.utilization'),
    check('memoryUsage', metrics.resourceUsage.memory, t.memoryUsage, '%', 'average RSS / system memory'),
  ];
  const known = checks.filter((c) => c.status !== 'unknown');
  const status = known.length === 0 ? 'unknown' : known.reduce<Health>((worst, c) => (RANK[c.status] > RANK[worst] ? c.status : worst), 'healthy');
  return { status, evaluatedAt: new Date(now).toISOString(), window: { from: metrics.from, to: metrics.to }, checks, metrics };
}
