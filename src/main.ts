#!/usr/bin/env node
import { runCli } from './cli/cli';

// The only place that exits the process.
runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env, cwd: process.cwd() }).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`secret-broker: ${(err as Error)?.message ?? String(err)}\n`);
    process.exit(1);
  },
);
