// The server under test as a separate process, as it runs in production: the built CLI
// (`node dist/cli/main.js start --port 0 --data <file> --json`), its memory read from Linux's /proc,
// and a registry of what was started so that every exit path (error, Ctrl-C) stops it.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import readline from 'node:readline';
import { loopback, untilHealthy } from './http.js';

export interface ServerProcess {
  child: ChildProcess;
  pid: number;
  url: string;
  /** performance.now() at spawn */
  spawnedAt: number;
  /** ms from spawn to the JSON line (listening) */
  listeningMs: number;
  /** ms from spawn to the first GET /healthz that answered 200 */
  healthyMs: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const live = new Set<ChildProcess>();
/** Every pid this suite started, dead or alive: what is not ours is a neighbour. */
export const startedPids = new Set<number>();

/** Environment without the server's own settings, so a developer's SOLEMATE_PERF_* cannot change the run. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SOLEMATE_PERF_') && !k.startsWith('OTEL_')) env[k] = v;
  return env;
}

export async function startServer(data: string, logFile: string): Promise<ServerProcess> {
  const log = fs.openSync(logFile, 'a');
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, ['dist/cli/main.js', 'start', '--port', '0', '--data', data, '--json'], { stdio: ['ignore', 'pipe', log], env: cleanEnv() });
  fs.closeSync(log);
  live.add(child);
  if (child.pid !== undefined) startedPids.add(child.pid);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    }),
  );
  const lines = readline.createInterface({ input: child.stdout! });
  const first = new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    void exited.then(({ code, signal }) => reject(new Error(`the server exited (${signal ?? code}) before listening; see ${logFile}`)));
    setTimeout(() => reject(new Error(`the server did not print its URL within 60 s; see ${logFile}`)), 60_000).unref();
  });
  try {
    const line = await first;
    const listeningMs = performance.now() - spawnedAt;
    const url = loopback(String((JSON.parse(line) as { url?: unknown }).url)).origin;
    const healthyMs = await untilHealthy(url, spawnedAt, 60_000);
    return { child, pid: child.pid!, url, spawnedAt, listeningMs, healthyMs, exited };
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  } finally {
    lines.close();
  }
}

/** Sends `signal` and waits for the exit; SIGKILL after `graceMs`. Returns the ms it took and how it ended. */
export async function stopServer(s: ServerProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 20_000): Promise<{ ms: number; code: number | null; signal: NodeJS.Signals | null; forced: boolean }> {
  const t0 = performance.now();
  if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill(signal);
  let forced = false;
  const timer = setTimeout(() => {
    forced = true;
    s.child.kill('SIGKILL');
  }, graceMs);
  const how = await s.exited;
  clearTimeout(timer);
  return { ms: performance.now() - t0, ...how, forced };
}

/** Stops whatever is still running (error and Ctrl-C paths); synchronous so it also works on 'exit'. */
export function killAll(): void {
  for (const c of live) c.kill('SIGKILL');
}

export function statusKb(pid: number, field: string): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN; // the process is gone
  }
}

/** Resident memory of a process: VmRSS sampled every `everyMs`, and the kernel's own peak (VmHWM). */
export class RssSampler {
  private peakKb = 0;
  private hwmKb = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number, everyMs = 200) {
    this.timer = setInterval(() => this.sample(), everyMs);
    this.sample();
  }

  private sample(): void {
    const rss = statusKb(this.pid, 'VmRSS');
    if (rss > this.peakKb) this.peakKb = rss;
    const hwm = statusKb(this.pid, 'VmHWM');
    if (hwm > this.hwmKb) this.hwmKb = hwm;
  }

  /** MiB so far: the highest sampled VmRSS and VmHWM (read once more now, while the process still runs). */
  peek(): { sampledPeakMiB: number; hwmMiB: number } {
    this.sample();
    return { sampledPeakMiB: this.peakKb / 1024, hwmMiB: this.hwmKb / 1024 };
  }

  stop(): { sampledPeakMiB: number; hwmMiB: number } {
    clearInterval(this.timer);
    return this.peek();
  }
}
