// Prometheus' alert state machine, one instance per rule and label set:
//   inactive → pending (condition true, waiting `for`) → firing → resolved (condition false for
//   `keep_firing_for`), with pending → inactive when the condition turns false before `for`.
// Pure: the evaluator persists what this returns.

export type AlertPhase = 'pending' | 'firing' | 'resolved';

export interface AlertInstance {
  /** rule id + label set: stable across restarts */
  key: string;
  ruleId: string;
  alert: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  phase: AlertPhase;
  value: number;
  /** when the condition became true (this cycle) */
  activeAt: number;
  firedAt?: number;
  resolvedAt?: number;
  /** last evaluation at which the condition held */
  lastTrueAt: number;
  updatedAt: number;
}

export interface Transition {
  kind: 'firing' | 'resolved';
  instance: AlertInstance;
  at: number;
}

export interface Step {
  /** undefined: the instance is gone (was pending, condition false) */
  next: AlertInstance | undefined;
  transition?: Transition;
}

/**
 * One evaluation of one instance. `holds` is whether the condition is true now (an instance whose
 * series has no data in the window is evaluated with holds = false).
 */
export function step(prev: AlertInstance | undefined, holds: boolean, value: number, now: number, rule: { forMs: number; keepFiringForMs: number }, fresh: () => Omit<AlertInstance, 'phase' | 'value' | 'activeAt' | 'lastTrueAt' | 'updatedAt'>): Step {
  if (holds) {
    if (!prev || prev.phase === 'resolved') {
      const base: AlertInstance = { ...fresh(), phase: 'pending', value, activeAt: now, lastTrueAt: now, updatedAt: now };
      if (rule.forMs <= 0) {
        const firing = { ...base, phase: 'firing' as const, firedAt: now };
        return { next: firing, transition: { kind: 'firing', instance: firing, at: now } };
      }
      return { next: base };
    }
    if (prev.phase === 'pending' && now - prev.activeAt >= rule.forMs) {
      const firing: AlertInstance = { ...prev, ...fresh(), phase: 'firing', value, firedAt: now, lastTrueAt: now, updatedAt: now };
      return { next: firing, transition: { kind: 'firing', instance: firing, at: now } };
    }
    return { next: { ...prev, ...fresh(), value, lastTrueAt: now, updatedAt: now } };
  }
  if (!prev || prev.phase === 'resolved') return { next: prev };
  if (prev.phase === 'pending') return { next: undefined };
  // firing, condition false: keep firing for keep_firing_for after it last held
  if (now - prev.lastTrueAt < rule.keepFiringForMs) return { next: { ...prev, updatedAt: now } };
  const resolved: AlertInstance = { ...prev, phase: 'resolved', resolvedAt: now, updatedAt: now };
  return { next: resolved, transition: { kind: 'resolved', instance: resolved, at: now } };
}

export function instanceKey(ruleId: string, labels: Record<string, string>): string {
  return `${ruleId}${JSON.stringify(Object.keys(labels).sort().map((k) => [k, labels[k]]))}`;
}
