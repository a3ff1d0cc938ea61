#!/usr/bin/env node
import { runCli } from './cli/cli';

// grpc-js sets the TLS servername to the target even when it is an IP address
// (127.0.0.1); Node warns about that on every connection. Keep other warnings.
process.removeAllListeners('warning');
process.on('warning', (w: Error & { code?: string }) => {
  if (w.code !== 'DEP0123') process.stderr.write(`${w.name}: ${w.message}\n`);
});

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
