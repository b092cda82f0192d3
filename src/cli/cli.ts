// The command table and dispatcher; main.ts is the executable that calls it.
import { runCommand, type Command, type Io } from './command.js';
import start from './start/index.js';
import status from './status/index.js';
import metrics from './metrics/index.js';
import trends from './trends/index.js';
import config from './config/index.js';
import loadtest from './loadtest/index.js';
import alerts from './alerts/index.js';
import analyze from './analyze/index.js';
import optimize from './optimize/index.js';
import optimizations from './optimizations/index.js';
import dashboards from './dashboards/index.js';
import lighthouse from './lighthouse/index.js';
import webpagetest from './webpagetest/index.js';

const COMMANDS: Record<string, Command> = { start, status, metrics, trends, alerts, analyze, optimize, optimizations, dashboards, loadtest, lighthouse, webpagetest, config };

export function usage(): string {
  const lines = ['solemate-perf — performance monitoring for Node.js services', '', 'Usage: solemate-perf <command> [options]', '', 'Commands:'];
  for (const [name, cmd] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(14)} ${cmd.build().summary}`);
  lines.push('', 'Every command takes --help and --json.');
  return lines.join('\n');
}

export async function main(argv: string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.out(usage());
    return name ? 0 : 2;
  }
  if (name === '--version') {
    io.out('0.1.0');
    return 0;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    io.err(`solemate-perf: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  return runCommand(cmd, rest, io);
}

