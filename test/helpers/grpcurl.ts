import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { homedir } from 'node:os';
import * as path from 'node:path';
import { REPO } from './broker-harness';

/** The grpcurl version .ci/run installs (go install …/cmd/grpcurl@GRPCURL_VERSION). */
export const GRPCURL_VERSION = 'v1.9.3';

/**
 * Where .ci/run puts grpcurl (GOBIN=.cache/bin in the repo), then
 * $HOME/.cache/secret-broker/bin, then PATH. undefined when none has it.
 */
export function findGrpcurl(): string | undefined {
  const dirs = [path.join(REPO, '.cache/bin'), path.join(homedir(), '.cache/secret-broker/bin'), ...(process.env['PATH'] ?? '').split(path.delimiter)];
  for (const d of dirs) {
    if (!d) continue;
    const f = path.join(d, 'grpcurl');
    try {
      accessSync(f, constants.X_OK);
      return f;
    } catch {
      // not here
    }
  }
  return undefined;
}

export interface GrpcurlResult {
  code: number;
  out: string;
  err: string;
}

/** Runs grpcurl with a time bound; never throws for a non-zero exit (the result says it). */
export function grpcurl(bin: string, args: string[], timeoutMs = 20_000): Promise<GrpcurlResult> {
  return new Promise((resolve) => {
    execFile(bin, ['-max-time', String(Math.ceil(timeoutMs / 1000)), ...args], { timeout: timeoutMs + 5000, env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '' } }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, out: String(stdout), err: String(stderr) });
    });
  });
}
