import { loadConfig } from '../../config/load.js';
import type { Command, CommandSpec, Io } from '../command.js';

export function build(): CommandSpec {
  return {
    name: 'config',
    summary: 'Validate a config file and print the resolved configuration (defaults ← file ← environment).',
    usage: 'solemate-perf config [--config file.yml] [--json]',
    options: { config: { type: 'string', short: 'c' } },
    help: { config: 'YAML or JSON config file (default $SOLEMATE_PERF_CONFIG)' },
  };
}

export async function run(values: Record<string, unknown>, _pos: string[], io: Io): Promise<number> {
  const config = loadConfig({ file: values.config as string | undefined, env: io.env });
  const shown = { ...config, store: { ...config.store, url: config.store.url ? '(set)' : undefined } };
  io.out(values.json ? JSON.stringify(shown, null, 2) : `configuration is valid\n${JSON.stringify(shown, null, 2)}`);
  return 0;
}

export default { build, run } satisfies Command;
