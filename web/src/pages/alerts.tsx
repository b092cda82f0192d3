// Alerts: firing and pending (silence, acknowledge), the rules in force (create and edit the API
// rules), silences, and the firing/resolved history. Changes need an admin token when one is set.
import { useState } from 'preact/hooks';
import { api, useApi } from '../api';
import { Badge, Confirm, ErrorBox, Panel, SortTable } from '../components';
import { num, SEVERITY_TONE, time } from '../format';
import type { AlertInstance, Session, Silence } from '../types';

interface Rule {
  id: string;
  alert: string;
  group: string;
  file: string;
  expr: { metric: string; aggregation: string; window: string; op: string; threshold: number; by: string[]; filters: Record<string, unknown> };
  for: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

const labelText = (l: Record<string, string>) =>
  Object.entries(l)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');

function SilenceForm(props: { alert: AlertInstance; onDone: () => void }) {
  const [hours, setHours] = useState('2');
  const [by, setBy] = useState('');
  const [comment, setComment] = useState('');
  return (
    <Confirm
      label="Silence"
      question={`Silence ${props.alert.alert}?`}
      confirmLabel="Create silence"
      detail={
        <div class="form">
          <p class="muted">Matches {labelText({ alertname: props.alert.alert, ...props.alert.labels })}</p>
          <label>
            For (hours) <input type="number" min="0.25" step="0.25" value={hours} onInput={(e) => setHours((e.target as HTMLInputElement).value)} />
          </label>
          <label>
            Your name <input value={by} onInput={(e) => setBy((e.target as HTMLInputElement).value)} />
          </label>
          <label>
            Why <input value={comment} onInput={(e) => setComment((e.target as HTMLInputElement).value)} />
          </label>
        </div>
      }
      onConfirm={async () => {
        const matchers = [{ name: 'alertname', value: props.alert.alert, op: '=' }, ...Object.entries(props.alert.labels).map(([name, value]) => ({ name, value, op: '=' }))];
        await api('/api/silences', { method: 'POST', body: { matchers, endsAt: new Date(Date.now() + Number(hours) * 3_600_000).toISOString(), createdBy: by || 'dashboard', comment: comment || 'silenced from the dashboard' } });
        props.onDone();
        return 'Silenced.';
      }}
    />
  );
}

function AckButton(props: { alert: AlertInstance; onDone: () => void }) {
  const [by, setBy] = useState('');
  return (
    <Confirm
      label="Acknowledge"
      question={`Acknowledge ${props.alert.alert}?`}
      detail={
        <label>
          Your name <input value={by} onInput={(e) => setBy((e.target as HTMLInputElement).value)} />
        </label>
      }
      onConfirm={async () => {
        await api(`/api/alerts/${props.alert.fingerprint}/ack`, { method: 'POST', body: { by: by || 'dashboard', comment: 'from the dashboard' } });
        props.onDone();
        return 'Acknowledged.';
      }}
    />
  );
}

const EMPTY_RULE = { alert: '', metric: 'http.server.request.duration', aggregation: 'p95', window: '5m', op: '>', threshold: '500', for: '5m', by: '', severity: 'warning', summary: '' };

function RuleForm(props: { rule?: Rule; onDone: () => void; onCancel: () => void }) {
  const r = props.rule;
  const [f, setF] = useState(
    r ? { alert: r.alert, metric: r.expr.metric, aggregation: r.expr.aggregation, window: r.expr.window, op: r.expr.op, threshold: String(r.expr.threshold), for: `${Math.round(r.for / 1000)}s`, by: r.expr.by.join(','), severity: r.labels.severity ?? 'warning', summary: r.annotations.summary ?? '' } : EMPTY_RULE,
  );
  const [error, setError] = useState<string>();
  const field = (k: keyof typeof f, label: string, extra: Record<string, unknown> = {}) => (
    <label>
      {label} <input name={k} value={f[k]} onInput={(e) => setF({ ...f, [k]: (e.target as HTMLInputElement).value })} {...extra} />
    </label>
  );
  const submit = async (e: Event) => {
    e.preventDefault();
    const body = { alert: f.alert, expr: { metric: f.metric, aggregation: f.aggregation, window: f.window, op: f.op, threshold: Number(f.threshold), by: f.by.split(',').map((s) => s.trim()).filter(Boolean) }, for: f.for, labels: { severity: f.severity }, annotations: f.summary ? { summary: f.summary } : {} };
    try {
      await api(r ? `/api/alerts/rules/${encodeURIComponent(r.alert)}` : '/api/alerts/rules', { method: r ? 'PUT' : 'POST', body });
      props.onDone();
    } catch (x) {
      setError((x as Error).message);
    }
  };
  return (
    <form class="form" onSubmit={submit} aria-label={r ? `Edit rule ${r.alert}` : 'New rule'}>
      {field('alert', 'Name', r ? { readOnly: true } : { required: true, pattern: '[A-Za-z_][A-Za-z0-9_]*' })}
      {field('metric', 'Metric', { required: true })}
      <label>
        Aggregation{' '}
        <select value={f.aggregation} onChange={(e) => setF({ ...f, aggregation: (e.target as HTMLSelectElement).value })}>
          {['avg', 'min', 'max', 'p50', 'p90', 'p95', 'p99', 'rate', 'count', 'error_ratio', 'last'].map((a) => (
            <option>{a}</option>
          ))}
        </select>
      </label>
      {field('window', 'Window')}
      <label>
        Operator{' '}
        <select value={f.op} onChange={(e) => setF({ ...f, op: (e.target as HTMLSelectElement).value })}>
          {['>', '>=', '<', '<=', '==', '!='].map((o) => (
            <option>{o}</option>
          ))}
        </select>
      </label>
      {field('threshold', 'Threshold (ms for durations)', { type: 'number', step: 'any', required: true })}
      {field('for', 'For')}
      {field('by', 'One alert per (comma-separated)')}
      <label>
        Severity{' '}
        <select value={f.severity} onChange={(e) => setF({ ...f, severity: (e.target as HTMLSelectElement).value })}>
          <option>warning</option>
          <option>critical</option>
        </select>
      </label>
      {field('summary', 'Summary')}
      {error && <ErrorBox message={error} />}
      <div class="row">
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
        <button type="submit" class="primary">
          {r ? 'Save rule' : 'Create rule'}
        </button>
      </div>
    </form>
  );
}

export function Alerts(props: { session: Session }) {
  const alerts = useApi<{ active: AlertInstance[]; rules: Rule[]; ruleErrors: Record<string, string>; muted: Record<string, string> }>('/api/alerts');
  const rules = useApi<{ rules: Rule[] }>('/api/alerts/rules');
  const silences = useApi<{ silences: Silence[] }>('/api/silences');
  const history = useApi<{ events: { at: number; kind: string; key: string; body: AlertInstance }[] }>('/api/alerts/history?limit=50');
  const [editing, setEditing] = useState<Rule | 'new' | null>(null);
  const reload = () => {
    alerts.reload();
    silences.reload();
    rules.reload();
  };
  const can = props.session.canWrite;
  const active = alerts.data?.active ?? [];
  return (
    <div class="grid">
      <Panel title={`Firing and pending (${active.length})`} wide error={alerts.error} loading={!alerts.data && alerts.loading}>
        {!can && <p class="muted">Read-only: silencing and acknowledging need an admin token.</p>}
        {active.length === 0 ? (
          <p class="ok-text">Nothing firing or pending.</p>
        ) : (
          <ul class="list alerts">
            {active.map((a) => (
              <li>
                <div>
                  <Badge tone={a.phase === 'firing' ? (SEVERITY_TONE[a.labels.severity] ?? 'warn') : ''}>{a.phase}</Badge> <strong>{a.alert}</strong> <span class="muted">{labelText(a.labels)}</span>
                  {alerts.data?.muted[a.key] && <Badge tone="">{alerts.data.muted[a.key]}</Badge>}
                  {a.acknowledged && <Badge tone="ok">acknowledged by {a.acknowledged.by}</Badge>}
                </div>
                <div class="muted">
                  value {num(a.value, 3)} · active since {time(a.activeAt)}
                  {a.annotations.summary ? ` · ${a.annotations.summary}` : ''}
                </div>
                {can && (
                  <div class="row">
                    <SilenceForm alert={a} onDone={reload} />
                    {a.phase === 'firing' && !a.acknowledged && <AckButton alert={a} onDone={reload} />}
                  </div>
                )}
              </li>
            ))}
          </ul>
        )}
        {alerts.data && Object.keys(alerts.data.ruleErrors).length > 0 && (
          <div class="error" role="alert">
            Rule files with errors (the last good version stays in force):
            <ul>
              {Object.entries(alerts.data.ruleErrors).map(([f, m]) => (
                <li>
                  <code>{f}</code>: {m}
                </li>
              ))}
            </ul>
          </div>
        )}
      </Panel>
      <Panel
        title="Rules"
        wide
        error={rules.error}
        loading={!rules.data && rules.loading}
        actions={
          can && (
            <button type="button" class="primary" onClick={() => setEditing('new')}>
              New rule
            </button>
          )
        }
      >
        {editing && <RuleForm key={editing === 'new' ? 'new' : editing.id} rule={editing === 'new' ? undefined : editing} onCancel={() => setEditing(null)} onDone={() => (setEditing(null), reload())} />}
        <SortTable
          caption="Alert rules"
          rows={rules.data?.rules ?? []}
          rowKey={(r) => r.id}
          sort="+alert"
          columns={[
            { key: 'alert', label: 'Alert', value: (r) => r.alert },
            { key: 'expr', label: 'Condition', value: (r) => `${r.expr.aggregation}(${r.expr.metric}[${r.expr.window}]) ${r.expr.op} ${r.expr.threshold}`, render: (r) => <code class="wrap">{`${r.expr.aggregation}(${r.expr.metric}[${r.expr.window}])${r.expr.by.length ? ` by ${r.expr.by.join(',')}` : ''} ${r.expr.op} ${Number(r.expr.threshold.toPrecision(6))}`}</code> },
            { key: 'severity', label: 'Severity', value: (r) => r.labels.severity ?? '' },
            { key: 'file', label: 'Source', value: (r) => (r.file === 'api' ? 'API' : r.file) },
            {
              key: 'edit',
              label: '',
              value: () => '',
              render: (r) =>
                can && r.file === 'api' ? (
                  <button type="button" onClick={() => setEditing(r)} aria-label={`Edit ${r.alert}`}>
                    Edit
                  </button>
                ) : null,
            },
          ]}
        />
      </Panel>
      <Panel title="Silences" error={silences.error} loading={!silences.data && silences.loading}>
        <SortTable
          caption="Silences"
          rows={(silences.data?.silences ?? []).filter((s) => s.endsAt > Date.now())}
          rowKey={(s) => s.id}
          sort="-endsAt"
          empty="No active silence."
          columns={[
            { key: 'matchers', label: 'Matches', value: (s) => s.matchers.map((m) => `${m.name}${m.op}${m.value}`).join(', '), render: (s) => <code class="wrap">{s.matchers.map((m) => `${m.name}${m.op}${m.value}`).join(', ')}</code> },
            { key: 'endsAt', label: 'Until', value: (s) => s.endsAt, render: (s) => time(s.endsAt) },
            { key: 'createdBy', label: 'By', value: (s) => `${s.createdBy}: ${s.comment}` },
            {
              key: 'x',
              label: '',
              value: () => '',
              render: (s) =>
                can ? (
                  <Confirm
                    label="Expire"
                    danger
                    question="Expire this silence now?"
                    onConfirm={async () => {
                      await api(`/api/silences/${encodeURIComponent(s.id)}`, { method: 'DELETE' });
                      reload();
                    }}
                  />
                ) : null,
            },
          ]}
        />
      </Panel>
      <Panel title="History" error={history.error} loading={!history.data && history.loading}>
        <SortTable
          caption="Alert history"
          rows={history.data?.events ?? []}
          rowKey={(e) => `${e.at}${e.key}${e.kind}`}
          sort="-at"
          empty="No alert has fired yet."
          columns={[
            { key: 'at', label: 'When', value: (e) => e.at, render: (e) => time(e.at) },
            { key: 'kind', label: 'What', value: (e) => e.kind, render: (e) => <Badge tone={e.kind === 'firing' ? 'bad' : 'ok'}>{e.kind}</Badge> },
            { key: 'alert', label: 'Alert', value: (e) => `${e.body.alert} ${labelText(e.body.labels ?? {})}` },
          ]}
        />
      </Panel>
    </div>
  );
}
