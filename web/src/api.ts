// Talking to the server: every request carries the token the user gave (kept for the tab only),
// errors become readable messages, and pages re-read what they show when the live stream says
// something changed (or on the auto-refresh interval when live updates are off).
import { createContext } from 'preact';
import { useContext, useEffect, useRef, useState } from 'preact/hooks';

const TOKEN_KEY = 'solemate-perf-token';

export function token(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(t: string | null): void {
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
  else sessionStorage.removeItem(TOKEN_KEY);
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function headers(extra: Record<string, string> = {}): Record<string, string> {
  const t = token();
  return t ? { ...extra, authorization: `Bearer ${t}` } : extra;
}

export async function api<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, { method: init.method ?? 'GET', headers: headers(init.body === undefined ? {} : { 'content-type': 'application/json' }), body: init.body === undefined ? undefined : JSON.stringify(init.body) });
  } catch {
    throw new ApiError(0, 'The server cannot be reached. Is solemate-perf still running?');
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (!res.ok) {
    const m = (body as { message?: string } | undefined)?.message ?? `${res.status} ${res.statusText}`;
    if (res.status === 401) window.dispatchEvent(new CustomEvent('solemate:unauthorized'));
    throw new ApiError(res.status, m);
  }
  return body as T;
}

/** Bumped when the server says data changed (live) or on the refresh interval; pages re-read on it. */
export const Tick = createContext(0);

export interface Loaded<T> {
  data: T | undefined;
  error: string | undefined;
  loading: boolean;
  reload: () => void;
}

/** GET path now, again when the path changes and on every tick (at most once a second). */
export function useApi<T>(path: string | null, live = true): Loaded<T> {
  const tick = useContext(Tick);
  const [state, setState] = useState<{ data?: T; error?: string; loading: boolean; for?: string }>({ loading: path !== null });
  const [nonce, setNonce] = useState(0);
  const last = useRef(0);
  const seq = useRef(0);
  useEffect(() => {
    if (path === null) return;
    const now = Date.now();
    const wait = live && last.current && state.for === path ? Math.max(0, 1000 - (now - last.current)) : 0;
    const my = ++seq.current;
    const timer = setTimeout(() => {
      last.current = Date.now();
      if (state.for !== path) setState((s) => ({ ...s, loading: true }));
      api<T>(path)
        .then((data) => my === seq.current && setState({ data, loading: false, for: path }))
        .catch((e: Error) => my === seq.current && setState((s) => ({ data: s.for === path ? s.data : undefined, error: e.message, loading: false, for: path })));
    }, wait);
    return () => clearTimeout(timer);
  }, [path, live ? tick : 0, nonce]);
  return { data: state.for === path ? state.data : undefined, error: state.for === path ? state.error : undefined, loading: state.loading, reload: () => setNonce((n) => n + 1) };
}
