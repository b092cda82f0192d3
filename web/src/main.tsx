// The dashboard's shell: navigation, time range, auto-refresh, live status, theme, the token prompt
// when the server wants one, keyboard shortcuts — and the page the path names.
import { render, type ComponentChildren, type ComponentType } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api, setToken, Tick, token, headers } from './api';
import { connectLive, type LiveState } from './live';
import { linkTo, navigate, RANGES, setParams, useLocation, withQuery } from './url';
import { Overview } from './pages/overview';
import type { Session } from './types';
import './styles.css';

type PageProps = { session: Session; name?: string };

/** Pages other than the overview are separate chunks, loaded when first opened. */
function lazy(load: () => Promise<ComponentType<PageProps>>): ComponentType<PageProps> {
  let loaded: ComponentType<PageProps> | undefined;
  return function Lazy(props: PageProps) {
    const [, set] = useState(0);
    const [error, setError] = useState<string>();
    useEffect(() => {
      if (!loaded) load().then((c) => ((loaded = c), set(1)), (e: Error) => setError(`This page could not be loaded (${e.message}); reload to try again.`));
    }, []);
    if (error) return <p class="error" role="alert">{error}</p>;
    const C = loaded;
    return C ? <C {...props} /> : <p class="muted loading">Loading…</p>;
  };
}

const Routes = lazy(() => import('./pages/routes').then((m) => m.Routes));
const Database = lazy(() => import('./pages/database').then((m) => m.Database));
const Trends = lazy(() => import('./pages/trends').then((m) => m.Trends));
const Alerts = lazy(() => import('./pages/alerts').then((m) => m.Alerts));
const Optimizations = lazy(() => import('./pages/optimizations').then((m) => m.Optimizations));
const LoadTests = lazy(() => import('./pages/loadtests').then((m) => m.LoadTests));
const Frontend = lazy(() => import('./pages/frontend').then((m) => m.Frontend));
const DashboardPage = lazy(() => import('./pages/dashboard').then((m) => (p: PageProps) => <m.DashboardPage name={p.name!} />));

const PAGES: { path: string; title: string; key: string; view: ComponentType<PageProps> }[] = [
  { path: '/', title: 'Overview', key: '1', view: Overview },
  { path: '/routes', title: 'Routes', key: '2', view: Routes },
  { path: '/database', title: 'Database & cache', key: '3', view: Database },
  { path: '/trends', title: 'Trends', key: '4', view: Trends },
  { path: '/alerts', title: 'Alerts', key: '5', view: Alerts },
  { path: '/optimizations', title: 'Optimizations', key: '6', view: Optimizations },
  { path: '/loadtests', title: 'Load tests', key: '7', view: LoadTests },
  { path: '/frontend', title: 'Frontend', key: '8', view: Frontend },
];

const THEME_KEY = 'solemate-perf-theme';
function applyTheme(t: string | null) {
  const theme = t === 'dark' || t === 'light' ? t : matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
  document.documentElement.dataset.theme = theme;
  return theme;
}

function TokenForm(props: { message: string; onDone: () => void }) {
  const [value, setValue] = useState('');
  return (
    <form
      class="panel token"
      onSubmit={(e) => {
        e.preventDefault();
        setToken(value.trim() || null);
        props.onDone();
      }}
    >
      <h2>Sign in</h2>
      <p>{props.message}</p>
      <label for="token">Token (viewer or admin)</label>
      <input id="token" type="password" autocomplete="current-password" value={value} onInput={(e) => setValue((e.target as HTMLInputElement).value)} />
      <button class="primary" type="submit">
        Use token
      </button>
      <p class="muted">The token is kept for this tab only.</p>
    </form>
  );
}

function App() {
  const { path, params } = useLocation();
  const [session, setSession] = useState<Session | undefined>();
  const [sessionError, setSessionError] = useState<string | undefined>();
  const [theme, setTheme] = useState(() => applyTheme(localStorage.getItem(THEME_KEY)));
  const [live, setLive] = useState<LiveState>('off');
  const [tick, setTick] = useState(0);
  const [tokenNonce, setTokenNonce] = useState(0);
  const refresh = params.get('refresh') ?? 'live';

  useEffect(() => {
    api<Session>('/api/session')
      .then((s) => (setSession(s), setSessionError(undefined)))
      .catch((e: Error) => setSessionError(e.message));
  }, [tokenNonce]);

  useEffect(() => {
    const f = () => setTokenNonce((n) => n + 1);
    window.addEventListener('solemate:unauthorized', f);
    return () => window.removeEventListener('solemate:unauthorized', f);
  }, []);

  // live: re-read on every change the stream announces; otherwise every N seconds; "off": never
  useEffect(() => {
    if (!session?.canRead) return;
    // (re)connected: re-read too, events may have been missed while the stream was down
    if (refresh === 'live') {
      // the stream opens once the page has loaded and settled: the first data comes from the
      // pages' own requests, and an endless request does not hold up the page's load
      let close: (() => void) | undefined;
      const open = () => {
        close = connectLive(
          () => headers(),
          () => setTick((t) => t + 1),
          (state) => {
            setLive(state);
            if (state === 'live') setTick((t) => t + 1);
          },
        );
      };
      const timer = setTimeout(() => (document.readyState === 'complete' ? open() : window.addEventListener('load', open, { once: true })), 1000);
      return () => {
        clearTimeout(timer);
        window.removeEventListener('load', open);
        close?.();
      };
    }
    setLive('off');
    const s = Number(refresh);
    if (!(s > 0)) return;
    const timer = setInterval(() => setTick((t) => t + 1), s * 1000);
    return () => clearInterval(timer);
  }, [refresh, session?.canRead, tokenNonce]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement;
      if (e.ctrlKey || e.metaKey || e.altKey || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName) || t.isContentEditable || document.querySelector('dialog[open]')) return;
      const page = PAGES.find((p) => p.key === e.key);
      if (page) navigate(withQuery(page.path, new URLSearchParams(location.search)));
      else if (e.key === 't') toggleTheme();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  });

  const toggleTheme = () => {
    const next = theme === 'dark' ? 'light' : 'dark';
    localStorage.setItem(THEME_KEY, next);
    setTheme(applyTheme(next));
  };

  const page = PAGES.find((p) => p.path === path);
  const dash = /^\/dashboards\/([\w-]+)$/.exec(path);
  const title = page?.title ?? (dash ? `Dashboard ${dash[1]}` : 'Not found');
  useEffect(() => {
    document.title = `${title} · SoleMate Performance`;
  }, [title]);

  let body: ComponentChildren;
  if (sessionError) body = <p class="error" role="alert">Cannot reach the server: {sessionError}</p>;
  else if (!session) body = <p class="muted loading">Loading…</p>;
  else if (!session.canRead) body = <TokenForm message={token() ? 'That token is not valid here. Ask an administrator for a viewer or admin token.' : 'This server needs a token to show its data.'} onDone={() => setTokenNonce((n) => n + 1)} />;
  else if (page) body = <page.view session={session} />;
  else if (dash) body = <DashboardPage session={session} name={dash[1]} />;
  else body = <p class="error" role="alert">No page {path}. Pick one above.</p>;

  return (
    <Tick.Provider value={tick}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href={withQuery('/', params)} onClick={(e) => linkTo(e, withQuery('/', params))}>
          SoleMate Performance
        </a>
        <nav aria-label="Pages">
          {PAGES.map((p) => (
            <a href={withQuery(p.path, params)} aria-current={p.path === path ? 'page' : undefined} onClick={(e) => linkTo(e, withQuery(p.path, params))} title={`${p.title} (key ${p.key})`}>
              {p.title}
            </a>
          ))}
        </nav>
        <div class="controls">
          <label>
            <span class="sr-only">Time range</span>
            <select aria-label="Time range" value={params.get('range') ?? '1h'} onChange={(e) => setParams({ range: (e.target as HTMLSelectElement).value })}>
              {RANGES.map((r) => (
                <option value={r}>Last {r}</option>
              ))}
            </select>
          </label>
          <label>
            <span class="sr-only">Refresh</span>
            <select aria-label="Refresh" value={refresh} onChange={(e) => setParams({ refresh: (e.target as HTMLSelectElement).value === 'live' ? null : (e.target as HTMLSelectElement).value })}>
              <option value="live">Live</option>
              <option value="10">Every 10 s</option>
              <option value="60">Every minute</option>
              <option value="off">Paused</option>
            </select>
          </label>
          <span class={`live-state is-${live}`} role="status" aria-live="polite" title="Live updates from the server">
            {live === 'live' ? '● live' : live === 'reconnecting' ? '○ reconnecting…' : refresh === 'live' ? '○ connecting…' : refresh === 'off' ? 'paused' : `every ${refresh} s`}
          </span>
          <button type="button" class="icon" onClick={toggleTheme} aria-label={`Switch to ${theme === 'dark' ? 'light' : 'dark'} theme (key t)`}>
            {theme === 'dark' ? '☀' : '☾'}
          </button>
          {session && session.role !== 'anonymous' && (
            <button type="button" class="icon" onClick={() => (setToken(null), setTokenNonce((n) => n + 1))}>
              Sign out ({session.role})
            </button>
          )}
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <h1>{title}</h1>
        {body}
      </main>
    </Tick.Provider>
  );
}

const root = document.getElementById('app')!;
root.textContent = '';
render(<App />, root);
