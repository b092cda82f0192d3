// Runs every benchmark in its own process, one after the other (they must not share the CPU).
//   npm run build && npm run bench
import { spawnSync } from 'node:child_process';

const BENCHES: [string, string[]][] = [
  ['recorder', []],
  ['accuracy', []],
  ['memory', ['--expose-gc']],
  ['store', []],
  ['middleware-cost', []],
  ['own-property', []],
  ['middleware', []],
  ['middleware-toggle', []],
  ['middleware-fresh', []],
  ['middleware-profile', []],
  ['compression', []],
  ['tracing', []],
  ['loadgen', []],
  ['shop', []],
  ['alerts', []],
  ['lighthouse', []],
];

let failed = 0;
for (const [name, flags] of BENCHES) {
  process.stdout.write(`\n## ${name}\n\n`);
  const r = spawnSync(process.execPath, [...flags, '--import', 'tsx', `bench/${name}.ts`], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exitCode = failed ? 1 : 0;
