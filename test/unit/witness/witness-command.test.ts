import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import pino from 'pino';
import { runCli } from '../../../src/cli/cli';
import type { CliIo } from '../../../src/cli/cli-io';
import { generateNoteKey, parseSignerKey } from '../../../src/evidence/note-key';
import { ManualClock } from '../../../src/lib/clock';
import { requestCosignature } from '../../../src/witness/witness-client';
import { makeWitnessCommand, witnessCommand, witnessKeyCommand } from '../../../src/witness/witness-command';
import { TestLog } from './test-log';

const ORIGIN = 'example.org/secret-broker';

function io(cwd: string): CliIo & { out(): string; err(): string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const o: Buffer[] = [];
  const e: Buffer[] = [];
  stdout.on('data', (c: Buffer) => o.push(c));
  stderr.on('data', (c: Buffer) => e.push(c));
  return { stdout, stderr, stdin: new PassThrough(), env: {}, cwd, out: () => Buffer.concat(o).toString(), err: () => Buffer.concat(e).toString() };
}

describe('witness/witness-command', function () {
  this.timeout(30_000);
  const logKey = generateNoteKey(ORIGIN);
  let tmp: string;
  let config: string;

  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'witness-cmd-'));
    config = path.join(tmp, 'witness.yaml');
    fs.writeFileSync(
      config,
      `listen: 127.0.0.1:0\nstate: var/state.json\nkey: var/witness.key\nname: witness.example.org/w1\nlogs:\n  - origin: ${ORIGIN}\n    key: "${logKey.verifierKey}"\n`,
    );
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('has the paths and usage the CLI registers', () => {
    assert.deepEqual(witnessCommand.path, ['witness']);
    assert.equal(witnessCommand.usage, 'witness --config W [--json]');
    assert.deepEqual(witnessKeyCommand.path, ['witness', 'key']);
  });

  it('dispatches through runCli when registered (as cli.ts will)', async () => {
    const t = io(tmp);
    assert.equal(await runCli(['witness', 'key', '--config', config], t, [witnessCommand, witnessKeyCommand]), 0);
    assert.match(t.out(), /^witness\.example\.org\/w1\+/);
    const u = io(tmp);
    assert.equal(await runCli(['witness'], u, [witnessCommand, witnessKeyCommand]), 2);
    assert.match(u.err(), /witness needs --config FILE/);
  });

  it('witness key creates the key (0600) and prints the verifier key', async () => {
    const t = io(tmp);
    assert.equal(await witnessKeyCommand.run({ config }, [], t), 0);
    const vkey = t.out().trim();
    assert.match(vkey, /^witness\.example\.org\/w1\+[0-9a-f]{8}\+/);
    assert.equal(fs.statSync(path.join(tmp, 'var/witness.key')).mode & 0o777, 0o600);
    const j = io(tmp);
    await witnessKeyCommand.run({ config, json: true }, [], j);
    assert.deepEqual(JSON.parse(j.out()), { name: 'witness.example.org/w1', verifier_key: vkey, key_file: path.join(tmp, 'var/witness.key'), created: false });
  });

  it('witness runs the server, announces key and address on stderr, and stops when told', async () => {
    const exit: number[] = [];
    const t = io(tmp);
    let stop!: () => void;
    const stopped = new Promise<void>((r) => (stop = r));
    const started = new Promise<{ url: string; verifierKey: string }>((resolve) => {
      void makeWitnessCommand({
        clock: new ManualClock(Date.UTC(2026, 5, 1)),
        waitForStop: () => stopped,
        onStarted: resolve,
        logger: pino({ level: 'silent' }),
      })
        .run({ config }, [], t)
        .then((code) => exit.push(code));
    });
    const info = await started;
    assert.match(t.err(), new RegExp(`listening on ${info.url.replace(/[.]/g, '\\.')} \\(plain HTTP\\)`));
    assert.ok(t.err().includes(`witness verifier key: ${info.verifierKey}`));
    const log = await new TestLog(ORIGIN, parseSignerKey(logKey.signerKey)).grow(3);
    const r = await requestCosignature(info.url, { oldSize: 0, proof: [], checkpointNote: await log.checkpoint() }, { witnessKey: info.verifierKey });
    assert.equal(r.status, 'cosigned');
    stop();
    for (let i = 0; i < 100 && exit.length === 0; i++) await new Promise((r2) => setTimeout(r2, 20));
    assert.deepEqual(exit, [0]);
    assert.match(t.err(), /shutting down/);
    // The state file was released: the lock is gone.
    assert.equal(fs.existsSync(path.join(tmp, 'var/state.json.lock')), false);
  });

  it('refuses to start with a group-readable key outside dev mode', async () => {
    const t = io(tmp);
    await witnessKeyCommand.run({ config }, [], t);
    fs.chmodSync(path.join(tmp, 'var/witness.key'), 0o644);
    await assert.rejects(makeWitnessCommand({ waitForStop: async () => undefined }).run({ config }, [], io(tmp)), /accessible by group or others/);
  });
});
