// Progress for long commands on stderr: a redrawn bar on a terminal, a line every 5 s otherwise.
import type { Io } from './command.js';

export interface ProgressUpdate {
  phase: string;
  elapsed: number;
  total: number;
  requests: number;
  failed: number;
  rps: number;
  p95: number;
}

export function progressBar(io: Io, tty = Boolean(process.stderr.isTTY)) {
  let last = 0;
  let drawn = false;
  const line = (p: ProgressUpdate) => {
    const frac = Math.min(1, p.total > 0 ? p.elapsed / p.total : 0);
    const width = 24;
    const full = Math.round(frac * width);
    return `${p.phase.padEnd(14)} [${'█'.repeat(full)}${'░'.repeat(width - full)}] ${Math.round(p.elapsed)}/${Math.round(p.total)} s  ${p.rps.toFixed(0).padStart(6)} req/s  p95 ${p.p95.toFixed(1).padStart(7)} ms  failed ${p.failed}`;
  };
  return {
    update: (p: ProgressUpdate) => {
      if (tty) {
        process.stderr.write(`\r${line(p)}\u001b[K`);
        drawn = true;
      } else if (Date.now() - last >= 5000) {
        last = Date.now();
        io.err(line(p));
      }
    },
    log: (m: string) => {
      if (tty && drawn) process.stderr.write('\r\u001b[K');
      io.err(m);
    },
    done: () => {
      if (tty && drawn) process.stderr.write('\n');
    },
  };
}
