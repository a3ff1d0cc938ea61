import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { generateNoteKey, parseVerifierKey } from '../../../../src/evidence/note-key';
import { ensureSigningKey, loadSigningKey } from '../../../../src/evidence/ledger/signing-key';
import { BrokerError } from '../../../../src/lib/errors';
import { tempDir } from '../../../helpers/broker-harness';
import { ORIGIN } from './ledger-fixture';

async function rejection(p: Promise<unknown>): Promise<BrokerError> {
  const err = await p.then(
    () => assert.fail('expected a rejection'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof BrokerError, String(err));
  return err;
}

describe('evidence/ledger/signing-key: the evidence signing key file', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir('sb-evkey-');
  });
  afterEach(() => tmp.cleanup());

  it('creates a 0600 Go-style signer key named after the origin, then loads the same key', async () => {
    const file = path.join(tmp.dir, 'keys', 'evidence.key');
    const first = await ensureSigningKey(file, ORIGIN);
    assert.equal(first.created, true);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    const text = fs.readFileSync(file, 'utf8');
    assert.match(text, /^PRIVATE\+KEY\+test\.example\/secret-broker\+[0-9a-f]{8}\+[A-Za-z0-9+/=]+\n$/);
    assert.match(first.signer.verifierKey, /^test\.example\/secret-broker\+[0-9a-f]{8}\+[A-Za-z0-9+/=]+$/);
    parseVerifierKey(first.signer.verifierKey);
    const again = await ensureSigningKey(file, ORIGIN);
    assert.equal(again.created, false);
    assert.equal(again.signer.verifierKey, first.signer.verifierKey);
    assert.deepEqual(fs.readdirSync(path.dirname(file)), ['evidence.key'], 'no temp files left behind');
  });

  it('gives one key to racing creators', async () => {
    const file = path.join(tmp.dir, 'evidence.key');
    const all = await Promise.all(Array.from({ length: 8 }, () => ensureSigningKey(file, ORIGIN)));
    assert.equal(all.filter((r) => r.created).length, 1);
    assert.equal(new Set(all.map((r) => r.signer.verifierKey)).size, 1);
  });

  it('refuses a group- or world-readable key outside dev mode, and warns in dev mode', async () => {
    const file = path.join(tmp.dir, 'evidence.key');
    await ensureSigningKey(file, ORIGIN);
    fs.chmodSync(file, 0o640);
    const err = await rejection(loadSigningKey(file, ORIGIN));
    assert.equal(err.kind, 'failed_precondition');
    assert.match(err.message, /accessible by group or others \(mode 0640\); run `chmod 600/);
    await rejection(ensureSigningKey(file, ORIGIN));
    const warnings: string[] = [];
    await loadSigningKey(file, ORIGIN, { allowInsecurePermissions: true, warn: (m) => warnings.push(m) });
    assert.equal(warnings.length, 1);
  });

  it('refuses a key named after another origin, a malformed key, and a missing file, without echoing key material', async () => {
    const file = path.join(tmp.dir, 'evidence.key');
    const other = generateNoteKey('other.example/log');
    fs.writeFileSync(file, other.signerKey.revealString() + '\n', { mode: 0o600 });
    assert.match((await rejection(loadSigningKey(file, ORIGIN))).message, /is named "other.example\/log", but evidence.origin is "test.example\/secret-broker"/);

    const secretish = 'PRIVATE+KEY+test.example/secret-broker+00000000+c2VjcmV0c2VjcmV0';
    fs.writeFileSync(file, secretish + '\n', { mode: 0o600 });
    const bad = await rejection(loadSigningKey(file, ORIGIN));
    assert.ok(!bad.message.includes('c2VjcmV0c2VjcmV0'), bad.message);

    const missing = await rejection(loadSigningKey(path.join(tmp.dir, 'nope.key'), ORIGIN));
    assert.match(missing.message, /does not exist; `secret-broker evidence key --config FILE` creates it/);
  });
});
