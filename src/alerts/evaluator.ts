// The alert evaluator: every cycle it reloads the rule files (a broken file keeps its last good
// version), evaluates each rule over the store, steps every instance through the state machine,
// and persists new instances, phase changes and firing/resolved events in one transaction — so a
// restart neither re-pages nor forgets. (Values and "last true" times between phase changes live
// in memory; after a restart a firing alert whose condition no longer holds resolves without
// waiting out keep_firing_for.) With several server replicas on PostgreSQL only the one holding
// the advisory lock evaluates; a replica that was locked out reloads the stored state first.
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { QueryEngine } from '../query/engine.js';
import type { Store } from '../store/store.js';
import { compare, CycleReads, evaluateExpr } from './expr.js';
import { loadRules, parseRuleObject, renderTemplate, type AlertRule, type RuleSet, type ThresholdContext } from './rules.js';
import { BURN_ALERTS, burnAlert, type Slo } from './slo.js';
import { instanceKey, step, type AlertInstance, type Transition } from './state.js';

export interface EvaluatorOptions {
  engine: QueryEngine;
  store: Store;
  /** directories of rule files */
  ruleDirs: string[];
  clock?: () => number;
  /** what `threshold: { from, level }` resolves against (default: the PRD's) */
  thresholds?: ThresholdContext;
  /** rules kept in the store (created through the API), loaded every cycle */
  storedRules?: boolean;
  /** SLOs whose burn-rate alerts are evaluated with the rules */
  slos?: Slo[];
  /** called for every firing / resolved transition, after it is stored */
  onTransition?: (t: Transition) => void;
}

export interface CycleResult {
  at: number;
  /** false when another replica holds the evaluation lock */
  evaluated: boolean;
  rules: number;
  instances: number;
  transitions: Transition[];
  /** rule file → error (its last good version stays in force); rule id → evaluation error */
  errors: Record<string, string>;
  durationMs: number;
}

export class AlertEvaluator {
  private ruleSet: RuleSet = { rules: [], errors: {} };
  private readonly instances = new Map<string, AlertInstance>();
  /** the in-memory instances are what the store holds (this evaluator ran the last cycle) */
  private synced = false;
  private readonly clock: () => number;

  constructor(private readonly o: EvaluatorOptions) {
    this.clock = o.clock ?? Date.now;
  }

  /** the outcome of the last cycle this evaluator ran or skipped */
  lastCycle: CycleResult | undefined;

  get rules(): AlertRule[] {
    return [...this.ruleSet.rules, ...this.apiRules];
  }

  private apiRules: AlertRule[] = [];

  /** Rules created through the API, as stored; a stored rule that no longer parses is reported, not evaluated. */
  async loadStoredRules(): Promise<Record<string, string>> {
    const errors: Record<string, string> = {};
    if (!this.o.storedRules) return errors;
    const out: AlertRule[] = [];
    for (const d of await this.o.store.listDocs('alert-rule')) {
      try {
        out.push(parseRuleObject(d.body, this.o.thresholds));
      } catch (e) {
        errors[`api/${d.id}`] = (e as Error).message;
      }
    }
    this.apiRules = out;
    return errors;
  }

  /** rule file → why its last good version (or nothing) is in force */
  get ruleErrors(): Record<string, string> {
    return this.ruleSet.errors;
  }

  /** Current instances (pending and firing). */
  active(): AlertInstance[] {
    return [...this.instances.values()].sort((a, b) => a.key.localeCompare(b.key));
  }

  /** Loads the stored instances (what fired before a restart, or on another replica). */
  async restore(): Promise<void> {
    this.instances.clear();
    for (const a of await this.o.store.loadAlerts()) this.instances.set(a.key, a.state as unknown as AlertInstance);
    this.synced = true;
  }

  reload(): RuleSet {
    this.ruleSet = loadRules(this.o.ruleDirs, this.ruleSet, this.o.thresholds);
    return this.ruleSet;
  }

  async cycle(now = this.clock()): Promise<CycleResult> {
    const started = Date.now();
    const r = await this.o.store.exclusive('alert-evaluation', () => this.evaluate(now));
    // another replica evaluated: its stored state is the truth next time
    if (!r) this.synced = false;
    const result = r ?? { at: now, evaluated: false, rules: this.ruleSet.rules.length, instances: this.instances.size, transitions: [], errors: {} };
    this.lastCycle = { ...result, durationMs: Date.now() - started };
    return this.lastCycle;
  }

  private async evaluate(now: number): Promise<Omit<CycleResult, 'durationMs'>> {
    // the stored state is the truth after a restart, and when another replica evaluated last
    if (!this.synced) await this.restore();
    this.reload();
    const errors: Record<string, string> = { ...this.ruleSet.errors, ...(await this.loadStoredRules()) };
    const upserts = new Map<string, AlertInstance>();
    const deletes: string[] = [];
    const transitions: Transition[] = [];
    const rules = this.rules;
    const ruleIds = new Set(rules.map((r) => r.id));
    const reads = new CycleReads(this.o.engine, now);
    const byRule = new Map<string, AlertInstance[]>();
    for (const inst of this.instances.values()) {
      const list = byRule.get(inst.ruleId);
      if (list) list.push(inst);
      else byRule.set(inst.ruleId, [inst]);
    }
    type RuleLike = Pick<AlertRule, 'id' | 'alert' | 'labels' | 'annotations' | 'forMs' | 'keepFiringForMs'> & { expr?: { threshold: number } };
    const apply = (rule: RuleLike, key: string, holds: boolean, value: number, labels: Record<string, string>) => {
      const prev = this.instances.get(key);
      const fresh = () => ({ key, ruleId: rule.id, alert: rule.alert, labels, annotations: Object.fromEntries(Object.entries(rule.annotations).map(([k, t]) => [k, renderTemplate(t, value, labels, rule.expr?.threshold)])) });
      const { next, transition } = step(prev, holds, value, now, rule, fresh);
      if (transition) transitions.push(transition);
      if (!next || next.phase === 'resolved') {
        if (prev) deletes.push(key);
        this.instances.delete(key);
      } else {
        this.instances.set(key, next);
        // stored when it starts or changes phase: what a restart needs (activeAt, firedAt)
        if (!prev || prev.phase !== next.phase) upserts.set(key, next);
      }
    };
    /** Steps every sample of a rule, and its instances that had no sample this cycle (condition false). */
    const applyAll = (rule: RuleLike, samples: { labels: Record<string, string>; value: number; holds: boolean }[]) => {
      const seen = new Set<string>();
      for (const s of samples) {
        const labels = { alertname: rule.alert, ...rule.labels, ...s.labels };
        const key = instanceKey(rule.id, labels);
        seen.add(key);
        apply(rule, key, s.holds, s.value, labels);
      }
      for (const inst of byRule.get(rule.id) ?? []) if (!seen.has(inst.key)) apply(rule, inst.key, false, inst.value, inst.labels);
    };
    for (const rule of rules) {
      try {
        const samples = await evaluateExpr(reads, rule.expr, rule.windowMs);
        applyAll(rule, samples.map((x) => ({ ...x, holds: compare(x.value, rule.expr.op, rule.expr.threshold) })));
      } catch (e) {
        errors[rule.id] = (e as Error).message;
      }
      // a rule over thousands of series is tens of milliseconds of work: /healthz and ingest go between rules
      await yieldToLoop();
    }
    // SLO error budgets: the multiwindow, multi-burn-rate alerts
    for (const slo of this.o.slos ?? []) {
      for (const b of BURN_ALERTS) {
        const rule: RuleLike = { id: `slo/${slo.name}/${b.name}`, alert: 'ErrorBudgetBurn', labels: { severity: b.severity, slo: slo.name, windows: `${b.long}/${b.short}` }, annotations: { summary: `SLO ${slo.name} burns its error budget {{ $value }}× too fast over ${b.long} (limit ${b.factor}×)` }, forMs: 0, keepFiringForMs: 0 };
        ruleIds.add(rule.id);
        try {
          const r = await burnAlert(reads, slo, b);
          applyAll(rule, r ? [{ labels: {}, value: r.value, holds: r.holds }] : []);
        } catch (e) {
          errors[rule.id] = (e as Error).message;
        }
        await yieldToLoop();
      }
    }
    // rules that were deleted from their files: their instances go, without a page
    for (const [key, inst] of [...this.instances]) {
      if (!ruleIds.has(inst.ruleId)) {
        this.instances.delete(key);
        deletes.push(key);
      }
    }
    await this.o.store.saveAlerts(
      [...upserts.values()].map((a) => ({ key: a.key, state: a as unknown as Record<string, unknown> })),
      deletes,
      transitions.map((t) => ({ at: t.at, kind: t.kind, key: t.instance.key, body: t.instance as unknown as Record<string, unknown> })),
    );
    for (const t of transitions) this.o.onTransition?.(t);
    return { at: now, evaluated: true, rules: rules.length, instances: this.instances.size, transitions, errors };
  }
}
