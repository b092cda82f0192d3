// Benchmark helpers. The machines are small and noisy: every number is a median of rounds, and
// comparisons are ratios measured in the same run.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
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
