#!/usr/bin/env node
// solemate-perf <command> — see docs/cli.md.
import type { Io } from './command.js';
import { main } from './cli.js';

const io: Io = { out: (s) => process.stdout.write(`${s}\n`), err: (s) => process.stderr.write(`${s}\n`), env: process.env };
main(process.argv.slice(2), io).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`solemate-perf: unexpected error: ${(e as Error).stack ?? e}\n`);
    process.exitCode = 1;
  },
);
