// Optimizations: the current recommendations with their evidence; a pre-check, and applying one —
// measured before and after, kept or rolled back by the server — with confirmation; the history
// with before/after numbers, the success rate, and rolling back a kept change.
import { useState } from 'preact/hooks';
import { api, useApi } from '../api';
import { Badge, Confirm, Panel, Stat } from '../components';
import { ms, num, pct, pv, SEVERITY_TONE, time } from '../format';
import type { OptimizationRecord, Recommendation, Session } from '../types';

interface History {
  optimizations: OptimizationRecord[];
  successRate: { applied: number; kept: number; rate?: number };
  running: string | null;
  canApply: { ok: boolean; reason?: string };
}

const STATE_TONE: Record<string, string> = { kept: 'ok', rolled_back: 'warn', failed: 'bad', skipped: '', rolled_back_on_request: 'warn' };

function Evidence(props: { value: unknown }) {
  const v = props.value;
  if (v === null || v === undefined) return <span>–</span>;
  if (typeof v !== 'object') return <span>{typeof v === 'number' ? num(v, 3) : String(v)}</span>;
  if (Array.isArray(v))
    return (
      <ul class="evidence">
        {v.slice(0, 10).map((x) => (
          <li>
            <Evidence value={x} />
          </li>
        ))}
        {v.length > 10 && <li class="muted">… {v.length - 10} more</li>}
      </ul>
    );
  return (
    <dl class="evidence">
      {Object.entries(v as Record<string, unknown>).map(([k, x]) => (
        <>
          <dt>{k}</dt>
          <dd>
            <Evidence value={x} />
          </dd>
        </>
      ))}
    </dl>
  );
}

function RecommendationItem(props: { r: Recommendation; canWrite: boolean; canApply: History['canApply'] | undefined; running: string | null; onApplied: () => void }) {
  const { r } = props;
  const [check, setCheck] = useState<string>();
  // a manual recommendation with an action (a cache that may answer out of date) is applied only when a person approves it
  const apply = props.canWrite && r.action !== undefined && !r.appliedBy;
  const approve = !r.automatic;
  return (
    <li class="rec">
      <div>
        <span class="muted">#{r.priority}</span> <Badge tone={SEVERITY_TONE[r.severity]}>{r.severity}</Badge> <strong>{r.title}</strong> <Badge tone="">{r.type}</Badge> {r.automatic ? <Badge tone="ok">automatic</Badge> : <Badge tone="">by hand</Badge>} {r.appliedBy && <Badge tone="ok">applied and kept</Badge>}
      </div>
      <p>{r.description}</p>
      <p class="muted">
        Estimated {num(r.estimatedImprovement.value, 1)} {r.estimatedImprovement.unit} on {r.estimatedImprovement.metric}: {r.estimatedImprovement.derivedFrom}. Effort {r.effort}.
        {r.routes.length > 0 && ` Routes: ${r.routes.map((x) => `${x.method} ${x.route}`).join(', ')}.`}
      </p>
      <details>
        <summary>Evidence</summary>
        <Evidence value={r.evidence} />
      </details>
      {apply && (
        <div class="row">
          <button
            type="button"
            onClick={async () => {
              setCheck('Checking…');
              try {
                const c = await api<{ ok: boolean; reason: string | null }>('/api/optimizations/precheck', { method: 'POST', body: { recommendation: r.id } });
                setCheck(c.ok ? 'Pre-check passed: it can be applied.' : `Would be skipped: ${c.reason}`);
              } catch (e) {
                setCheck(`Pre-check failed: ${(e as Error).message}`);
              }
            }}
          >
            Validate
          </button>
          <Confirm
            label={approve ? 'Approve and apply' : 'Apply'}
            question={approve ? `Approve “${r.title}”?` : `Apply “${r.title}”?`}
            disabled={!props.canApply?.ok || props.running !== null}
            detail={
              <>
                {approve && (
                  <p>
                    <strong>The analysis leaves this to a person:</strong> {r.description} Your approval is kept on the record.
                  </p>
                )}
                <p>The server measures the affected routes before and after, keeps the change only if it is significantly faster (at least 5% at the median), and rolls it back otherwise. This takes a few minutes.</p>
              </>
            }
            onConfirm={async () => {
              await api('/api/optimizations', { method: 'POST', body: { recommendation: r.id, ...(approve ? { approve: true } : {}) } });
              props.onApplied();
              return 'Started: follow it in the history below.';
            }}
          />
          {check && (
            <span class="muted" role="status">
              {check}
            </span>
          )}
        </div>
      )}
    </li>
  );
}

function rate(s: History['successRate']): string {
  return s.rate === undefined ? '– (nothing applied yet)' : `${pct(s.rate, 0)} (${s.kept} of ${s.applied})`;
}

export function Optimizations(props: { session: Session }) {
  // the server reuses an analysis for 30 s; "Analyze now" asks for a new one
  const [analyses, setAnalyses] = useState(0);
  const recs = useApi<{ recommendations: Recommendation[]; analyzedAt: string; analyzers: { id: string; title: string; status: string; findings: number; reason?: string }[] }>(`/api/optimizations/recommendations${analyses ? `?fresh=true&n=${analyses}` : ''}`, false);
  const hist = useApi<History>('/api/optimizations');
  const h = hist.data;
  const can = props.session.canWrite;
  return (
    <div class="grid">
      <Panel title="Results" wide error={hist.error} loading={!h && hist.loading}>
        {h && (
          <div class="stats">
            <Stat label="Success rate" value={rate(h.successRate)} hint="kept / applied" />
            <Stat label="Optimizations" value={String(h.optimizations.length)} />
            <Stat label="Kept" value={String(h.optimizations.filter((o) => o.state === 'kept').length)} tone="ok" />
            <Stat label="Running" value={h.running ?? 'nothing'} />
          </div>
        )}
        {h && !h.canApply.ok && can && <p class="muted">Applying from here is off: {h.canApply.reason}</p>}
        {!can && <p class="muted">Read-only: applying and rolling back need an admin token.</p>}
      </Panel>
      <Panel
        title="Recommendations"
        wide
        error={recs.error}
        loading={!recs.data && recs.loading}
        actions={
          <button type="button" disabled={recs.loading} onClick={() => setAnalyses((n) => n + 1)}>
            Analyze now
          </button>
        }
      >
        {recs.data && (
          <p class="muted">
            Analyzed {time(recs.data.analyzedAt)} by {recs.data.analyzers.length} analyzers ({recs.data.analyzers.filter((a) => a.status === 'findings').length} with findings, {recs.data.analyzers.filter((a) => a.status === 'error').length} errors).
          </p>
        )}
        {recs.data?.recommendations.length === 0 && <p class="ok-text">No recommendation: every analyzer passed or had nothing to look at.</p>}
        <ol class="list">
          {recs.data?.recommendations.map((r) => <RecommendationItem r={r} canWrite={can} canApply={h?.canApply} running={h?.running ?? null} onApplied={() => hist.reload()} />)}
        </ol>
      </Panel>
      <Panel title="History" wide error={hist.error} loading={!h && hist.loading}>
        {h?.optimizations.length === 0 && <p class="muted">Nothing applied yet.</p>}
        <ol class="list">
          {h?.optimizations.map((o) => (
            <li class="rec">
              <div>
                <Badge tone={STATE_TONE[o.state] ?? ''}>{o.state.replace(/_/g, ' ')}</Badge> <strong>{o.title}</strong> <span class="muted">{time(o.createdAt)}</span>
              </div>
              {o.approval && <p class="muted">{o.approval}</p>}
              {o.reason && <p>{o.reason}</p>}
              {o.before && o.after && (
                <p>
                  p95 {ms(o.before.p95)} → {ms(o.after.p95)}
                  {o.p95Factor ? ` (${num(o.p95Factor, 2)}×${o.roundP95Factors?.length ? `; by round ${o.roundP95Factors.map((f) => `${num(f, 1)}×`).join(', ')}` : ''})` : ''} · p50 {ms(o.before.p50)} → {ms(o.after.p50)}
                  {o.latency && ` · p ${pv(o.latency.test.p)}`}
                  {o.roundGainsPct && o.noisePct !== undefined && ` · round gains ${o.roundGainsPct.map((g) => `${num(g, 1)}%`).join(', ')} vs ${num(o.noisePct, 1)}% between runs of one setting`}
                </p>
              )}
              {o.perRoute && o.perRoute.length > 0 && (
                <p class="muted">
                  {o.perRoute.map((x) => `${x.route}: ${ms(x.beforeP95)} → ${ms(x.afterP95)}`).join(' · ')}
                </p>
              )}
              <details>
                <summary>Steps ({o.events.length})</summary>
                <ol>
                  {o.events.map((e) => (
                    <li>
                      {time(e.at)} <Badge tone="">{e.state}</Badge> {e.message}
                    </li>
                  ))}
                </ol>
              </details>
              {can && o.state === 'kept' && (
                <Confirm
                  label="Roll back"
                  danger
                  question={`Roll back “${o.title}”?`}
                  detail={<p>Undoes what this optimization created, nothing else.</p>}
                  onConfirm={async () => {
                    await api(`/api/optimizations/${encodeURIComponent(o.id)}/rollback`, { method: 'POST' });
                    hist.reload();
                    return 'Rolled back.';
                  }}
                />
              )}
            </li>
          ))}
        </ol>
      </Panel>
    </div>
  );
}
