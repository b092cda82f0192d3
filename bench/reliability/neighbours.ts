// Other engineers use this machine while the suite runs. This reads how much CPU processes that
// are not the suite's took during a case (every process's utime + stime from /proc, once a second),
// so a disturbed number can be told from a regression.
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { spawnSync } from 'node:child_process';

const TICK_MS = 1000 / Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim() || 100);

/** CPU ms of a process (all its threads), or undefined when it is gone. */
function cpuMs(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name may hold spaces and parentheses: the fields start after the last ") "
    const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch {
    return undefined;
  }
}

export class NeighbourCpu {
  private prev = new Map<number, number>();
  private last = performance.now();
  /** cores used by other processes, per interval */
  private readonly samples: number[] = [];
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly ours: () => Set<number>, everyMs = 1000) {
    this.read();
    this.timer = setInterval(() => this.read(), everyMs);
  }

  private read(): void {
    const now = performance.now();
    const mine = this.ours();
    const cur = new Map<number, number>();
    let other = 0;
    for (const name of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      const pid = Number(name);
      const ms = cpuMs(pid);
      if (ms === undefined) continue;
      cur.set(pid, ms);
      const before = this.prev.get(pid);
      if (before !== undefined && !mine.has(pid)) other += ms - before;
    }
    if (this.prev.size > 0) this.samples.push(other / (now - this.last));
    this.prev = cur;
    this.last = now;
  }

  /** Cores (1 = one core busy) that other processes used: the mean and the busiest second. */
  stop(): { mean: number; max: number } {
    this.read();
    clearInterval(this.timer);
    const n = this.samples.length;
    return { mean: n ? this.samples.reduce((a, b) => a + b, 0) / n : 0, max: n ? Math.max(...this.samples) : 0 };
  }
}
