// One folder per command, each exporting { build, run } (the lighthouse-ci layout). Exit codes:
// 0 done, 1 failed at run time (server unreachable, store down), 2 bad usage or bad config.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { PerfError } from '../errors.js';

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  env: NodeJS.ProcessEnv;
}

export interface CommandSpec {
  name: string;
  summary: string;
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  /** option name → help line */
  help: Record<string, string>;
}

export interface Command {
  build(): CommandSpec;
  run(values: Record<string, unknown>, positionals: string[], io: Io): Promise<number>;
}

export const COMMON_OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  json: { type: 'boolean' },
} as const;

export function helpText(spec: CommandSpec): string {
  const lines = [`${spec.summary}`, '', `Usage: ${spec.usage}`, '', 'Options:'];
  const all = { ...spec.help, json: 'print machine-readable JSON', help: 'show this help' };
  for (const [name, text] of Object.entries(all)) {
    const o = spec.options[name];
    const flag = `${o?.short ? `-${o.short}, ` : '    '}--${name}${o?.type === 'string' ? ' <value>' : ''}`;
    lines.push(`  ${flag.padEnd(28)} ${text}`);
  }
  return lines.join('\n');
}

export async function runCommand(cmd: Command, argv: string[], io: Io): Promise<number> {
  const spec = cmd.build();
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { ...COMMON_OPTIONS, ...spec.options }, allowPositionals: true, strict: true });
  } catch (e) {
    io.err(`solemate-perf ${spec.name}: ${(e as Error).message}\nRun "solemate-perf ${spec.name} --help" for usage.`);
    return 2;
  }
  if (parsed.values.help) {
    io.out(helpText(spec));
    return 0;
  }
  try {
    return await cmd.run(parsed.values, parsed.positionals, io);
  } catch (e) {
    if (e instanceof PerfError) {
      const usage = e.code === 'PERF_ERR_CONFIG' || e.code === 'PERF_ERR_USAGE' || e.code === 'PERF_ERR_QUERY';
      io.err(`solemate-perf ${spec.name}: ${e.message} [${e.code}]`);
      return usage ? 2 : 1;
    }
    if (e instanceof RangeError) {
      io.err(`solemate-perf ${spec.name}: ${e.message}`);
      return 2;
    }
    throw e;
  }
}
