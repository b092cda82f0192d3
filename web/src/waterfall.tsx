// A trace as a span waterfall: one row per span, indented by depth, a bar at its offset and length.
// Every name and attribute is rendered as text.
import { ms } from './format';
import type { Span, TraceDetail } from './types';

function rows(spans: Span[], depth = 0, out: { span: Span; depth: number }[] = []) {
  for (const s of [...spans].sort((a, b) => a.offset - b.offset)) {
    out.push({ span: s, depth });
    rows(s.children, depth + 1, out);
  }
  return out;
}

export function Waterfall(props: { trace: TraceDetail }) {
  const t = props.trace;
  const total = Math.max(t.duration, 1e-6);
  return (
    <div>
      <p class="muted">
        {t.spans} spans · {ms(t.duration)} · {t.database.queries} queries taking {ms(t.database.timeMs)}
        {t.database.waitMs < t.database.timeMs - 0.05 ? `, ${ms(t.database.waitMs)} of the request (some ran at once)` : ''}
        {t.error ? ' · has errors' : ''}
      </p>
      {t.database.repeated.length > 0 && (
        <p class="warn-text">
          Repeated statements:{' '}
          {t.database.repeated.slice(0, 3).map((r) => (
            <span>
              <code class="wrap">{r.statement}</code> ×{r.count}{' '}
            </span>
          ))}
        </p>
      )}
      <ol class="waterfall" aria-label="Spans">
        {rows(t.roots).map(({ span, depth }) => {
          const text = typeof span.attributes['db.query.text'] === 'string' ? (span.attributes['db.query.text'] as string) : undefined;
          return (
            <li class={span.status === 'error' ? 'error-span' : ''}>
              <span class="name" style={{ paddingLeft: `${depth * 0.9}rem` }} title={text ?? span.name}>
                {span.name}
                {text && <span class="muted"> — {text}</span>}
              </span>
              <span class="track">
                <span class={`bar ${span.kind}`} style={{ left: `${(span.offset / total) * 100}%`, width: `${Math.max(0.4, (span.duration / total) * 100)}%` }} />
              </span>
              <span class="num">{ms(span.duration)}</span>
            </li>
          );
        })}
      </ol>
    </div>
  );
}
