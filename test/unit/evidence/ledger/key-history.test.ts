import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BrokerError } from '../../../../src/lib/errors';
import {
  SigningKeyFiles,
  formatKeyHistory,
  keyFilesOf,
  openEvidenceKeys,
  parseKeyHistory,
  readKeyHistory,
  readLogKeys,
} from '../../../../src/evidence/ledger/key-history';
import { generateNoteKey } from '../../../../src/evidence/note-key';
import { tempDir } from '../../../helpers/broker-harness';

const ORIGIN = 'test.example/secret-broker';
const T0 = Date.UTC(2026, 4, 1, 12, 0, 0);
const DAY = 86_400_000;

async function refused(p: Promise<unknown>, re: RegExp): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof BrokerError, `expected a BrokerError, got ${String(err)}`);
  assert.equal(err.kind, 'failed_precondition');
  assert.match(err.message, re);
}

const mode = (file: string): number => fs.statSync(file).mode & 0o777;

describe('evidence/ledger/key-history: signing-key rotation on disk', () => {
  let tmp: ReturnType<typeof tempDir>;
  let keyPath: string;
  let files: ReturnType<typeof keyFilesOf>;

  beforeEach(() => {
    tmp = tempDir('sb-keys-');
    keyPath = path.join(tmp.dir, 'keys', 'evidence.key');
    files = keyFilesOf(keyPath);
  });
  afterEach(() => tmp.cleanup());

  it('without a history: creates the key once, and it is the only key', async () => {
    const a = await openEvidenceKeys(keyPath, ORIGIN);
    assert.equal(a.created, true);
    assert.deepEqual(a.retired, []);
    assert.equal(a.previous, undefined);
    const b = await openEvidenceKeys(keyPath, ORIGIN);
    assert.equal(b.created, false);
    assert.equal(b.signer.verifierKey, a.signer.verifierKey);
    assert.equal(await readKeyHistory(keyPath, ORIGIN), undefined);
    assert.deepEqual(await readLogKeys(keyPath, ORIGIN).then((k) => [k.current, k.retired.length]), [a.signer.verifierKey, 0]);
  });

  it('rotates: new key in place (0600), the old one in .prev (0600), both in the history; open loads both', async () => {
    const { signer: old } = await openEvidenceKeys(keyPath, ORIGIN);
    const store = new SigningKeyFiles(keyPath, ORIGIN, DAY);
    const { next, until } = await store.rotate(old, T0);
    assert.equal(until, T0 + DAY);
    assert.notEqual(next.verifierKey, old.verifierKey);
    assert.equal(next.name, ORIGIN);
    for (const f of [files.key, files.prev, files.history]) assert.equal(mode(f), 0o600, f);
    assert.ok(!fs.existsSync(files.next));

    const h = (await readKeyHistory(keyPath, ORIGIN))!;
    assert.deepEqual(
      h.keys.map((k) => k.verifierKey),
      [old.verifierKey, next.verifierKey],
    );
    assert.equal(h.keys[0]!.retiredAt, T0);
    assert.equal(h.keys[0]!.overlapUntil, T0 + DAY);
    assert.equal(h.keys[1]!.since, T0);
    // Public keys only.
    assert.ok(!fs.readFileSync(files.history, 'utf8').includes('PRIVATE'));

    const k = await openEvidenceKeys(keyPath, ORIGIN);
    assert.equal(k.signer.verifierKey, next.verifierKey);
    assert.equal(k.previous?.verifierKey, old.verifierKey);
    assert.equal(k.previous?.signer?.verifierKey, old.verifierKey);
    assert.equal(k.previous?.until, T0 + DAY);
    assert.deepEqual(k.retired, [old.verifierKey]);
    const reader = await readLogKeys(keyPath, ORIGIN);
    assert.deepEqual([reader.current, reader.previous, reader.signer?.verifierKey], [next.verifierKey, old.verifierKey, next.verifierKey]);

    // After the overlap the previous private key goes; the history keeps its public key.
    await store.retirePrevious();
    assert.ok(!fs.existsSync(files.prev));
    const after = await openEvidenceKeys(keyPath, ORIGIN);
    assert.equal(after.previous?.verifierKey, old.verifierKey);
    assert.equal(after.previous?.signer, undefined);

    // A second rotation keeps the whole history, oldest first.
    const third = await store.rotate(after.signer, T0 + 2 * DAY);
    assert.deepEqual(
      (await readKeyHistory(keyPath, ORIGIN))!.keys.map((r) => r.verifierKey),
      [old.verifierKey, next.verifierKey, third.next.verifierKey],
    );
    const k3 = await openEvidenceKeys(keyPath, ORIGIN);
    assert.deepEqual(k3.retired, [old.verifierKey, next.verifierKey]);
    assert.equal(k3.previous?.signer?.verifierKey, next.verifierKey);
  });

  it('refuses a key file holding a retired key, or a key the history does not list, and never recreates a missing one', async () => {
    const { signer: old } = await openEvidenceKeys(keyPath, ORIGIN);
    const oldBytes = fs.readFileSync(keyPath);
    await new SigningKeyFiles(keyPath, ORIGIN, DAY).rotate(old, T0);
    const current = fs.readFileSync(keyPath);

    // An old backup restored over the current key.
    fs.writeFileSync(keyPath, oldBytes, { mode: 0o600 });
    await refused(openEvidenceKeys(keyPath, ORIGIN), /holds the retired log key .*; the key history .* says the current key is /);

    fs.writeFileSync(keyPath, `${generateNoteKey(ORIGIN).signerKey.revealString()}\n`, { mode: 0o600 });
    await refused(openEvidenceKeys(keyPath, ORIGIN), /which the key history .* does not list/);

    fs.rmSync(keyPath);
    await refused(openEvidenceKeys(keyPath, ORIGIN), /is missing, but the key history .* names .* as the log's current key; restore that key file/);
    assert.ok(!fs.existsSync(keyPath), 'a key that would not match the log is not created');

    fs.writeFileSync(keyPath, current, { mode: 0o600 });
    // .prev must be the previous key of the history.
    fs.writeFileSync(files.prev, `${generateNoteKey(ORIGIN).signerKey.revealString()}\n`, { mode: 0o600 });
    await refused(openEvidenceKeys(keyPath, ORIGIN), /is not the previous log key in the key history/);
  });

  it('finishes a rotation that reached its history, and discards one that did not', async () => {
    const { signer: old } = await openEvidenceKeys(keyPath, ORIGIN);
    const oldBytes = fs.readFileSync(keyPath);

    // Crash before the history: a stray .next and a .prev equal to the key.
    fs.writeFileSync(files.next, `${generateNoteKey(ORIGIN).signerKey.revealString()}\n`, { mode: 0o600 });
    fs.writeFileSync(files.prev, oldBytes, { mode: 0o600 });
    const k1 = await openEvidenceKeys(keyPath, ORIGIN);
    assert.equal(k1.signer.verifierKey, old.verifierKey);
    assert.ok(!fs.existsSync(files.next) && !fs.existsSync(files.prev));

    // Crash after the history, before the rename: the history names .next's key.
    const next = generateNoteKey(ORIGIN);
    fs.writeFileSync(files.next, `${next.signerKey.revealString()}\n`, { mode: 0o600 });
    fs.writeFileSync(files.prev, oldBytes, { mode: 0o600 });
    fs.writeFileSync(
      files.history,
      formatKeyHistory({ origin: ORIGIN, keys: [{ verifierKey: old.verifierKey, retiredAt: T0, overlapUntil: T0 + DAY }, { verifierKey: next.verifierKey, since: T0 }] }),
      { mode: 0o600 },
    );
    // A reader meanwhile goes by the history.
    const reader = await readLogKeys(keyPath, ORIGIN);
    assert.equal(reader.current, next.verifierKey);
    assert.equal(reader.signer, undefined);
    const k2 = await openEvidenceKeys(keyPath, ORIGIN);
    assert.equal(k2.signer.verifierKey, next.verifierKey);
    assert.equal(k2.previous?.signer?.verifierKey, old.verifierKey);
    assert.ok(!fs.existsSync(files.next));
  });

  it('checks the history file strictly', () => {
    const good = formatKeyHistory({ origin: ORIGIN, keys: [{ verifierKey: generateNoteKey(ORIGIN).verifierKey }] }).toString();
    assert.equal(parseKeyHistory(good, 'h', ORIGIN).keys.length, 1);
    const bad: Array<[string, RegExp]> = [
      ['{', /not JSON/],
      [good.replace(ORIGIN, 'other.example/log'), /origin "other.example\/log"/],
      ['{"origin":"test.example/secret-broker","keys":[]}', /non-empty list/],
      [good.replace('"verifier_key"', '"colour":1,"verifier_key"'), /unknown field "colour"/],
      [JSON.stringify({ origin: ORIGIN, keys: [{ verifier_key: generateNoteKey('other.example/log').verifierKey }] }), /not an Ed25519 log key named after the origin/],
      [JSON.stringify({ origin: ORIGIN, keys: [{ verifier_key: generateNoteKey(ORIGIN).verifierKey }, { verifier_key: generateNoteKey(ORIGIN).verifierKey }] }), /keys\[0\]\.retired_at is missing/],
    ];
    for (const [text, re] of bad) assert.throws(() => parseKeyHistory(text, 'h', ORIGIN), re, text);
  });
});
