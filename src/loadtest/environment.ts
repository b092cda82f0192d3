// What a stored run records about where it ran, so runs are only compared knowingly.
import { execFileSync } from 'node:child_process';
import os from 'node:os';

export function environment(extra: Record<string, unknown> = {}): Record<string, unknown> {
  const cpus = os.cpus();
  let autocannon = 'unknown';
  try {
    autocannon = (JSON.parse(execFileSync(process.execPath, ['-p', "JSON.stringify(require('autocannon/package.json').version)"], { encoding: 'utf8' })) as string) ?? 'unknown';
  } catch {
    // not resolvable from here
  }
  return { node: process.version, platform: `${os.platform()} ${os.release()}`, arch: os.arch(), cpus: cpus.length, cpuModel: cpus[0]?.model.trim(), memoryBytes: os.totalmem(), hostname: os.hostname(), loadGenerator: `autocannon ${autocannon}`, ...extra };
}

/** HEAD's commit, with "-dirty" when the work tree has changes; undefined outside a git checkout. */
export function gitRevision(cwd = process.cwd()): string | undefined {
  try {
    const rev = execFileSync('git', ['rev-parse', 'HEAD'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return dirty ? `${rev}-dirty` : rev;
  } catch {
    return undefined;
  }
}
