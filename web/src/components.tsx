// Shared pieces: panels that show their own loading and error state (an API error is a message in
// place, never a blank page), sortable tables, stat tiles, and a confirmation dialog for changes.
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';

export function Panel(props: { title: string; error?: string; loading?: boolean; wide?: boolean; actions?: ComponentChildren; children?: ComponentChildren; id?: string; class?: string }) {
  return (
    <section class={`panel${props.wide ? ' wide' : ''}${props.class ? ` ${props.class}` : ''}`} aria-labelledby={props.id ? `${props.id}-h` : undefined} id={props.id}>
      <header>
        <h2 id={props.id ? `${props.id}-h` : undefined}>{props.title}</h2>
        {props.actions}
      </header>
      {props.error ? <ErrorBox message={props.error} /> : props.loading ? <p class="muted loading">Loading…</p> : props.children}
    </section>
  );
}

export function ErrorBox(props: { message: string }) {
  return (
    <p class="error" role="alert">
      {props.message}
    </p>
  );
}

export function Stat(props: { label: string; value: string; tone?: 'ok' | 'warn' | 'bad' | ''; hint?: string }) {
  return (
    <div class={`stat ${props.tone ?? ''}`}>
      <div class="label">{props.label}</div>
      <div class="value">{props.value}</div>
      {props.hint && <div class="hint">{props.hint}</div>}
    </div>
  );
}

export function Badge(props: { tone: string; children: ComponentChildren }) {
  return <span class={`badge ${props.tone}`}>{props.children}</span>;
}

export interface Column<T> {
  key: string;
  label: string;
  value: (row: T) => number | string | null;
  render?: (row: T) => ComponentChildren;
  numeric?: boolean;
}

/** Sortable by clicking (or Enter on) a header; the sort is kept in the URL by the caller when it wants. */
export function SortTable<T>(props: { rows: T[]; columns: Column<T>[]; sort?: string; onSort?: (key: string) => void; rowKey: (r: T) => string; onRow?: (r: T) => void; empty?: string; caption: string }) {
  const [local, setLocal] = useState(props.sort ?? '');
  const sort = props.sort ?? local;
  const desc = !sort.startsWith('+');
  const key = sort.replace(/^[+-]/, '');
  const col = props.columns.find((c) => c.key === key);
  const rows = col
    ? [...props.rows].sort((a, b) => {
        const x = col.value(a);
        const y = col.value(b);
        const c = x === null ? 1 : y === null ? -1 : typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
        return desc ? -c : c;
      })
    : props.rows;
  const click = (k: string) => {
    const next = k === key && desc ? `+${k}` : `-${k}`;
    if (props.onSort) props.onSort(next);
    else setLocal(next);
  };
  if (props.rows.length === 0) return <p class="muted">{props.empty ?? 'Nothing yet.'}</p>;
  return (
    <div class="table-wrap">
      <table>
        <caption class="sr-only">{props.caption}</caption>
        <thead>
          <tr>
            {props.columns.map((c) => (
              <th scope="col" class={c.numeric ? 'num' : ''} aria-sort={c.key === key ? (desc ? 'descending' : 'ascending') : 'none'}>
                <button type="button" class="sort" onClick={() => click(c.key)}>
                  {c.label}
                  <span aria-hidden="true">{c.key === key ? (desc ? ' ▾' : ' ▴') : ''}</span>
                </button>
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={props.rowKey(r)} class={props.onRow ? 'clickable' : ''} onClick={props.onRow ? () => props.onRow!(r) : undefined}>
              {props.columns.map((c, i) => (
                <td class={c.numeric ? 'num' : ''}>
                  {i === 0 && props.onRow ? (
                    <button type="button" class="link" onClick={(e) => (e.stopPropagation(), props.onRow!(r))}>
                      {c.render ? c.render(r) : String(c.value(r) ?? '–')}
                    </button>
                  ) : c.render ? (
                    c.render(r)
                  ) : (
                    String(c.value(r) ?? '–')
                  )}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** A button that asks before it acts; the action's error (or result) shows beside it. */
export function Confirm(props: { label: string; question: string; detail?: ComponentChildren; confirmLabel?: string; disabled?: boolean; danger?: boolean; onConfirm: () => Promise<string | void> }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);
  useEffect(() => () => dialog.current?.close(), []);
  const go = async () => {
    dialog.current?.close();
    setBusy(true);
    setResult(null);
    try {
      const text = await props.onConfirm();
      setResult(text ? { ok: true, text } : null);
    } catch (e) {
      setResult({ ok: false, text: (e as Error).message });
    } finally {
      setBusy(false);
    }
  };
  return (
    <span class="confirm">
      <button type="button" class={props.danger ? 'danger' : 'primary'} disabled={props.disabled || busy} onClick={() => dialog.current?.showModal()}>
        {busy ? 'Working…' : props.label}
      </button>
      {result && <span class={result.ok ? 'ok-text' : 'error-text'} role={result.ok ? 'status' : 'alert'}>{result.text}</span>}
      <dialog ref={dialog} aria-label={props.question}>
        <h3>{props.question}</h3>
        {props.detail}
        <div class="row">
          <button type="button" onClick={() => dialog.current?.close()}>
            Cancel
          </button>
          <button type="button" class={props.danger ? 'danger' : 'primary'} onClick={go}>
            {props.confirmLabel ?? props.label}
          </button>
        </div>
      </dialog>
    </span>
  );
}
