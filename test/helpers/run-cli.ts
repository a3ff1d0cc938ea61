import { PassThrough } from 'node:stream';
import { runCli } from '../../src/cli/cli';

/** Runs the CLI in-process with captured stdout/stderr and the given stdin and environment. */
export async function runCapture(argv: string[], stdin = '', env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const input = new PassThrough();
  input.end(stdin);
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await runCli(argv, { stdout, stderr, stdin: input, env, cwd: process.cwd() });
  return { code, out, err };
}

