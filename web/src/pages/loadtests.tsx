// Load tests and benchmarks: stored runs (what, where, on which revision, pass/fail), one run
// compared with a baseline run (Mann–Whitney U and the Hodges–Lehmann shift, computed by the
// server), and the capacity curve of a stress run with its USL fit.
import { useApi } from '../api';
import { XYChart } from '../chart';
import { Badge, Panel, SortTable, Stat } from '../components';
import { ms, num, pct, pv, time } from '../format';
import { usl } from '../../../src/loadtest/statistics.js';
import type { Comparison, LoadTestRunAnswer as Run } from '../types';
import { setParams, useLocation } from '../url';

export function LoadTests() {
  const { params } = useLocation();
  const runs = useApi<{ runs: Run[] }>('/api/loadtests?limit=200');
  const selected = params.get('run');
  const baseline = params.get('baseline');
  const all = runs.data?.runs ?? [];
  const run = all.find((r) => r.id === selected);
  const cmp = useApi<{ run: string; baseline: string; comparison: Comparison }>(run && baseline ? `/api/loadtests/${encodeURIComponent(run.id)}/compare?baseline=${encodeURIComponent(baseline)}` : null, false);
  const steps = run?.result.steps ?? [];
  const cap = run?.result.capacity;
  return (
    <div class="grid">
      <Panel title="Runs" wide error={runs.error} loading={!runs.data && runs.loading}>
        <SortTable
          caption="Load-test runs"
          rows={all}
          rowKey={(r) => r.id}
          sort="-startedAt"
          onRow={(r) => setParams({ run: r.id, baseline: baseline && baseline !== r.id ? baseline : (all.find((x) => x.scenario === r.scenario && x.profile === r.profile && x.startedAt < r.startedAt)?.id ?? null) }, true)}
          empty="No runs yet: solemate-perf loadtest SCENARIO --store … records them."
          columns={[
            { key: 'startedAt', label: 'Started', value: (r) => r.startedAt, render: (r) => time(r.startedAt) },
            { key: 'scenario', label: 'Scenario', value: (r) => `${r.scenario} (${r.profile})` },
            { key: 'rps', label: 'Requests/s', numeric: true, value: (r) => r.result.rps, render: (r) => num(r.result.rps, 1) },
            { key: 'p95', label: 'p95', numeric: true, value: (r) => r.result.corrected?.p95, render: (r) => ms(r.result.corrected?.p95) },
            { key: 'errors', label: 'Errors', numeric: true, value: (r) => r.result.errorRate, render: (r) => pct(r.result.errorRate) },
            { key: 'passed', label: 'Thresholds', value: (r) => (r.passed ? 'passed' : 'failed'), render: (r) => <Badge tone={r.passed ? 'ok' : 'bad'}>{r.passed ? 'passed' : 'failed'}</Badge> },
            { key: 'rev', label: 'Revision', value: (r) => r.gitRevision ?? '', render: (r) => <code>{(r.gitRevision ?? '').slice(0, 10)}</code> },
          ]}
        />
      </Panel>
      {run && (
        <Panel title={`Run ${run.scenario} (${run.profile}), ${time(run.startedAt)}`} wide>
          <div class="stats">
            <Stat label="Requests/s" value={num(run.result.rps, 1)} hint={`${num(run.result.requests, 0)} requests`} />
            <Stat label="p50" value={ms(run.result.corrected?.p50)} />
            <Stat label="p95" value={ms(run.result.corrected?.p95)} />
            <Stat label="p99" value={ms(run.result.corrected?.p99)} />
            <Stat label="Errors" value={pct(run.result.errorRate)} />
          </div>
          <label>
            Compare with{' '}
            <select value={baseline ?? ''} onChange={(e) => setParams({ baseline: (e.target as HTMLSelectElement).value || null })}>
              <option value="">(no baseline)</option>
              {all
                .filter((r) => r.id !== run.id)
                .map((r) => (
                  <option value={r.id}>
                    {time(r.startedAt)} {r.scenario} ({r.profile})
                  </option>
                ))}
            </select>
          </label>
          {cmp.error && <p class="error" role="alert">{cmp.error}</p>}
          {cmp.data && (
            <p>
              Against the baseline: <Badge tone={cmp.data.comparison.verdict === 'regressed' ? 'bad' : cmp.data.comparison.verdict === 'improved' ? 'ok' : ''}>{cmp.data.comparison.verdict}</Badge> median {ms(cmp.data.comparison.baselineMedian)} → {ms(cmp.data.comparison.currentMedian)} ({num(cmp.data.comparison.medianChangePct, 1)}%), p {pv(cmp.data.comparison.test.p)}, shift {ms(cmp.data.comparison.shift.shift)} ({pct(cmp.data.comparison.shift.confidence, 0)} CI {ms(cmp.data.comparison.shift.low)} … {ms(cmp.data.comparison.shift.high)})
            </p>
          )}
          {steps.length > 0 && (
            <>
              <h3>Capacity curve</h3>
              <XYChart points={steps.map((s) => [s.x, s.rps])} fit={cap ? steps.map((s) => [s.x, usl(cap.lambda, cap.sigma, cap.kappa, s.x)]) : undefined} xLabel="concurrency" yLabel="requests/s" label="Throughput by concurrency, with the USL fit dashed" />
              {cap && <p class="muted">USL fit (dashed): σ {num(cap.sigma, 4)}, κ {num(cap.kappa, 6)} — {cap.derivedFrom}</p>}
              {run.result.breakingPoint && <p>Breaking point at concurrency {run.result.breakingPoint.concurrency}: {run.result.breakingPoint.reason}</p>}
            </>
          )}
        </Panel>
      )}
    </div>
  );
}
