// The view's state lives in the URL (path = page, query = range, refresh, selections), so a link
// reopens the same view. navigate() pushes; setParams() replaces (no history entry per keystroke).
import { useEffect, useState } from 'preact/hooks';

const listeners = new Set<() => void>();
const changed = () => listeners.forEach((f) => f());
window.addEventListener('popstate', changed);

export function navigate(to: string): void {
  if (to === location.pathname + location.search) return;
  history.pushState(null, '', to);
  changed();
  window.scrollTo(0, 0);
}

export function setParams(p: Record<string, string | null | undefined>, push = false): void {
  const q = new URLSearchParams(location.search);
  for (const [k, v] of Object.entries(p)) {
    if (v === null || v === undefined || v === '') q.delete(k);
    else q.set(k, v);
  }
  const s = q.toString();
  const url = location.pathname + (s ? `?${s}` : '');
  if (push) history.pushState(null, '', url);
  else history.replaceState(null, '', url);
  changed();
}

/** Re-renders on navigation; returns the path and the query. */
export function useLocation(): { path: string; params: URLSearchParams } {
  const [, set] = useState(0);
  useEffect(() => {
    const f = () => set((n) => n + 1);
    listeners.add(f);
    return () => void listeners.delete(f);
  }, []);
  return { path: location.pathname, params: new URLSearchParams(location.search) };
}

/** A link inside the app: same-tab clicks navigate without a reload; others behave as links do. */
export function linkTo(e: MouseEvent, href: string): void {
  if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  navigate(href);
}

export const RANGES = ['15m', '1h', '6h', '24h', '7d', '30d'] as const;

/** The selected range as API parameters: from=-1h (the server resolves "now"). */
export function rangeQuery(params: URLSearchParams): string {
  const r = params.get('range') ?? '1h';
  return `from=-${(RANGES as readonly string[]).includes(r) ? r : '1h'}`;
}

export function withQuery(path: string, params: URLSearchParams, keep: string[] = ['range', 'refresh']): string {
  const q = new URLSearchParams();
  for (const k of keep) {
    const v = params.get(k);
    if (v) q.set(k, v);
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}
