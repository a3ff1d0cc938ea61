import { isIP } from 'node:net';
import * as path from 'node:path';
import { parseYaml, readConfigFile } from '../config/load';
import { ConfigError, Problems, Section, describe, join } from '../config/problems';
import { isValidKeyName, parseVerifierKey } from '../evidence/note-key';

/*
 * The witness config (YAML), validated at load; every problem is reported
 * with its path and unknown keys are errors. Paths are relative to the file.
 *
 *   listen: 127.0.0.1:7380
 *   state: var/witness-state.json          # JSON, 0600, replaced atomically
 *   key: var/witness.key                   # cosigner key; created 0600 if missing
 *   name: witness.example.org/w1           # the witness key name
 *   logs:
 *     - origin: example.org/secret-broker
 *       key: "example.org/secret-broker+1234abcd+AU..."   # the log's verifier key
 *   tls: { cert: var/witness.pem, key: var/witness-tls.key }   # optional
 *   dev_mode: false                        # optional
 *
 * Plain HTTP is for loopback; another address needs `tls` (or dev_mode).
 */

export interface WitnessConfig {
  readonly file: string;
  readonly listen: { readonly host: string; readonly port: number };
  readonly statePath: string;
  readonly keyPath: string;
  readonly name: string;
  readonly logs: readonly { readonly origin: string; readonly key: string }[];
  readonly tls: { readonly cert: string; readonly key: string } | undefined;
  readonly devMode: boolean;
}

export function loadWitnessConfig(file: string): WitnessConfig {
  return parseWitnessConfigText(readConfigFile(file), file);
}

export function parseWitnessConfigText(text: string, file: string): WitnessConfig {
  const problems = new Problems();
  const baseDir = path.dirname(path.resolve(file));
  const root = Section.of('', parseYaml(text, file), problems);
  if (!root) throw new ConfigError(file, problems.list);

  const listen = hostPort(root, 'listen');
  const statePath = filePath(root, 'state', baseDir);
  const keyPath = filePath(root, 'key', baseDir);
  const name = root.string('name', { expect: 'a key name such as witness.example.org/w1' });
  if (name !== undefined && !isValidKeyName(name)) root.problems.add(root.at('name'), 'a key name must have no space, "+" or control character');
  const devMode = root.bool('dev_mode', false);
  const logs = logList(root);
  let tls: { cert: string; key: string } | undefined;
  const t = root.section('tls', false);
  if (t) {
    const cert = filePath(t, 'cert', baseDir);
    const key = filePath(t, 'key', baseDir);
    t.done();
    if (cert && key) tls = { cert, key };
  }
  root.done();

  if (listen && !tls && !devMode && !isLoopback(listen.host)) {
    problems.add('listen', `plain HTTP on ${listen.host} is not loopback: configure tls, or set dev_mode: true`);
  }
  if (statePath && keyPath && statePath === keyPath) problems.add('state', 'must not be the key file');

  if (!problems.empty || !listen || !statePath || !keyPath || name === undefined) throw new ConfigError(file, problems.list);
  return Object.freeze({ file: path.resolve(file), listen, statePath, keyPath, name, logs, tls, devMode });
}

function logList(root: Section): { origin: string; key: string }[] {
  const v = root.value('logs');
  const at = root.at('logs');
  if (v === undefined || v === null) {
    root.problems.add(at, 'is required (a list of { origin, key })');
    return [];
  }
  if (!Array.isArray(v) || v.length === 0) {
    root.problems.add(at, `expected a non-empty list of { origin, key }, got ${describe(v)}`);
    return [];
  }
  const out: { origin: string; key: string }[] = [];
  const seen = new Set<string>();
  v.forEach((item, i) => {
    const s = Section.of(join(at, i), item, root.problems);
    if (!s) return;
    const origin = s.string('origin', { expect: 'the log origin' });
    const key = s.string('key', { expect: "the log's verifier key <origin>+<id>+<base64>" });
    s.done();
    if (origin === undefined || key === undefined) return;
    if (!isValidKeyName(origin)) return s.problems.add(s.at('origin'), 'an origin must have no space, "+" or control character');
    try {
      const verifier = parseVerifierKey(key);
      if (verifier.name !== origin) return s.problems.add(s.at('key'), `the key is named ${JSON.stringify(verifier.name)}; a log key is named after its origin`);
    } catch (err) {
      return s.problems.add(s.at('key'), `${(err as Error).message} (an Ed25519 log key, type 0x01)`);
    }
    if (seen.has(key)) return s.problems.add(s.at('key'), 'this log key is listed twice');
    seen.add(key);
    out.push({ origin, key });
  });
  return out;
}

function hostPort(s: Section, key: string): { host: string; port: number } | undefined {
  const v = s.string(key, { expect: 'host:port, such as 127.0.0.1:7380' });
  if (v === undefined) return undefined;
  const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/.exec(v);
  const port = m ? Number(m[2]) : -1;
  if (!m || port > 65535) {
    s.problems.add(s.at(key), `expected host:port, such as 127.0.0.1:7380, got ${JSON.stringify(v)}`);
    return undefined;
  }
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

function filePath(s: Section, key: string, baseDir: string): string | undefined {
  const v = s.string(key, { expect: 'a file path' });
  return v === undefined ? undefined : path.resolve(baseDir, v);
}

function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}
