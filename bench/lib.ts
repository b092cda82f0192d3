// Benchmark helpers. The machines are small and noisy: every number is a median of rounds, and
// comparisons are ratios measured in the same run.
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * A 95% interval for the median of samples that come in groups, by resampling groups (a group is
 * what varies as a whole: a process, a round of processes): each of 2000 draws takes as many groups
 * as there are, with replacement, and the median of their pooled samples; the interval is the 2.5th
 * and 97.5th percentiles of those medians. A fixed seed, so the same samples give the same interval.
 */
export function intervalOfMedian(groups: number[][]): [number, number] {
  const RESAMPLES = 2000;
  let seed = 0x2545f491;
  const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const medians: number[] = [];
  for (let b = 0; b < RESAMPLES; b++) {
    const pooled: number[] = [];
    for (let i = 0; i < groups.length; i++) pooled.push(...groups[Math.floor(random() * groups.length)]);
    medians.push(median(pooled));
  }
  medians.sort((a, b) => a - b);
  return [medians[Math.floor(0.025 * (RESAMPLES - 1))], medians[Math.ceil(0.975 * (RESAMPLES - 1))]];
}

/** ns per call of fn(i), median over rounds; the loop body is what fn does. */
export function nsPerOp(fn: (i: number) => void, iterations: number, rounds: number): number {
  for (let i = 0; i < iterations; i++) fn(i); // warm up: let the JIT settle
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) fn(i);
    samples.push(Number(process.hrtime.bigint() - t0) / iterations);
  }
  return median(samples);
}

export function machine(): string {
  return `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`;
}

export function save(name: string, result: unknown): void {
  const dir = path.resolve('bench/results');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `${name}.json`), JSON.stringify({ name, machine: machine(), date: new Date().toISOString(), result }, null, 2));
}

export function table(headers: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n');
}

export const fmt = (v: number, digits = 1) => v.toFixed(digits);

/** Whether taskset can pin processes: servers on core 0, load generators on core 1 (less scheduler noise). */
export const PIN = !spawnSync('taskset', ['-c', '0', 'true']).error;

/**
 * Spawns `cmd` pinned to `core` when taskset is there (taskset execs it in place: the pid is
 * cmd's); stdout piped and stderr inherited unless `options` say otherwise.
 */
export function pinned(core: number, cmd: string, args: string[], options: SpawnOptions = {}): ChildProcess {
  const o: SpawnOptions = { stdio: ['ignore', 'pipe', 'inherit'], ...options };
  return PIN ? spawn('taskset', ['-c', String(core), cmd, ...args], o) : spawn(cmd, args, o);
}

/** A running bench/servers/hello.cjs: the process, its port, its further stdout lines, its exit. */
export interface Hello {
  child: ChildProcess;
  port: number;
  /** GET /hello/world on it */
  url: string;
  lines: AsyncIterator<string>;
  exited: Promise<unknown>;
}

/**
 * Starts the Express hello world (bench/servers/hello.cjs) in `variant` on core 0, with `nodeFlags`
 * before the script and `env` added to this process's environment; resolves once it prints its port.
 */
export async function startHello(variant: string, options: { nodeFlags?: string[]; env?: NodeJS.ProcessEnv } = {}): Promise<Hello> {
  const child = pinned(0, process.execPath, [...(options.nodeFlags ?? []), 'bench/servers/hello.cjs', variant], { env: { ...process.env, ...options.env } });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const lines = readline.createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const port = Number((await lines.next()).value);
  if (!port) {
    child.kill('SIGTERM');
    throw new Error(`${variant} did not start`);
  }
  return { child, port, url: `http://127.0.0.1:${port}/hello/world`, lines, exited };
}

/** What the hello world's variants are, for the benches' tables (a bench may say more of one). */
export const HELLO_VARIANTS: Readonly<Record<string, string>> = {
  none: 'uninstrumented',
  'none-b': 'uninstrumented, a second process (what the run resolves)',
  noop: 'a no-op Express middleware',
  spin: `${process.env.BENCH_SPIN_US ?? 1.5} µs of plain CPU per request (hello.cjs spin)`,
  'solemate-dc': 'solemate-performance instrumentHttpServer (no middleware)',
  solemate: 'solemate-performance expressMetrics middleware',
  'solemate-off': 'solemate-performance loaded, its instrumentation undone',
  'prom-bundle': 'express-prom-bundle 8',
  otel: 'OpenTelemetry http + express instrumentation (metrics)',
};

const TICK_MS = 1000 / Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim() || 100);

/** User + system CPU of a process (all its threads), ms, from Linux's /proc. */
export function cpuMs(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

/** Whether wrk is installed: the HTTP benches' load generator. */
export const HAS_WRK = !spawnSync('wrk', ['--version']).error;

/** Exits 2 when wrk is not installed, saying how to get it and why no other load generator will do. */
export function requireWrk(why: string): void {
  if (HAS_WRK) return;
  console.error(`wrk is not installed (apt-get install -y wrk): ${why}`);
  process.exit(2);
}

/**
 * Runs wrk with `args` on core 1: the requests it completed, its req/s and its whole output.
 * Throws when it completed none or got an answer other than 2xx.
 */
export async function wrk(args: string[]): Promise<{ requests: number; rps: number; out: string }> {
  const p = pinned(1, 'wrk', args);
  let out = '';
  p.stdout!.on('data', (d) => (out += d));
  await new Promise((resolve) => p.on('close', resolve));
  const requests = Number(/(\d+) requests in/.exec(out)?.[1]);
  if (!requests || /Non-2xx/.test(out)) throw new Error(`wrk failed:\n${out}`);
  return { requests, rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]), out };
}
