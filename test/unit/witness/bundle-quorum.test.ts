import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeBundle } from '../../../src/evidence/bundle';
import { BundleVerifyError, verifyBundle } from '../../../src/evidence/bundle-verify';
import { generateCosignerKey, parseCosignerKey } from '../../../src/evidence/cosignature';
import { EvidenceError } from '../../../src/evidence/evidence-error';
import { encodeVerifierKey, generateNoteKey, parseSignerKey } from '../../../src/evidence/note-key';
import { addSignatures } from '../../../src/evidence/signed-note';
import { ManualClock } from '../../../src/lib/clock';
import { MemoryLog } from '../evidence/memory-log';

const ORIGIN = 'example.org/secret-broker';

describe('evidence/bundle-verify: witness quorum (minWitnesses)', function () {
  this.timeout(30_000);
  const key = generateNoteKey(ORIGIN);
  const signer = parseSignerKey(key.signerKey);
  const clock = new ManualClock(Date.UTC(2026, 6, 1));
  const w = [generateCosignerKey('w1.example'), generateCosignerKey('w2.example'), generateCosignerKey('w3.example')];
  const cosigner = (i: number) => parseCosignerKey(w[i]!.signerKey, clock);
  const witnesses = w.map((k) => k.verifierKey);
  let tmp: string;
  let log: MemoryLog;
  let seq = 0;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bundle-quorum-'));
    log = new MemoryLog(ORIGIN, [signer]);
    await log.appendMany(6);
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  async function bundle(cosigners: number[]): Promise<string> {
    const dir = path.join(tmp, `b${seq++}`);
    const plain = await log.checkpoint();
    const note = cosigners.length > 0 ? addSignatures(plain, cosigners.map(cosigner)) : plain;
    await writeBundle(dir, await log.source(undefined, note));
    return dir;
  }

  async function quorumFails(dir: string, min: number, re: RegExp): Promise<void> {
    const err = await verifyBundle(dir, { keys: [key.verifierKey], witnesses, minWitnesses: min }).then(
      () => assert.fail('verified'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof BundleVerifyError, String(err));
    assert.equal(err.reason, 'witness-quorum');
    assert.match(err.message, re);
  }

  it('passes with enough distinct witness cosignatures and reports them', async () => {
    const dir = await bundle([0, 2]);
    const r = await verifyBundle(dir, { keys: [key.verifierKey], witnesses, minWitnesses: 2 });
    assert.deepEqual(r.witnessQuorum?.required, 2);
    assert.deepEqual([...r.witnessQuorum!.witnesses].map((n) => n.split('+')[0]).sort(), ['w1.example', 'w3.example']);
    assert.equal(r.cosigners.length, 2);
  });

  it('fails naming how many were found', async () => {
    await quorumFails(await bundle([1]), 2, /valid cosignatures from 1 of the 3 configured witnesses \(w2\.example\+[0-9a-f]{8}\); at least 2 required/);
    await quorumFails(await bundle([]), 1, /from 0 of the 3 configured witnesses; at least 1 required/);
  });

  it('counts only configured witnesses', async () => {
    const stranger = generateCosignerKey('stranger.example');
    const dir = path.join(tmp, `b${seq++}`);
    await writeBundle(dir, await log.source(undefined, addSignatures(await log.checkpoint(), [parseCosignerKey(stranger.signerKey, clock)])));
    await quorumFails(dir, 1, /from 0 of the 3/);
    // Listing it in `keys` makes its signature verified, but still not part of the quorum.
    const err = await verifyBundle(dir, { keys: [key.verifierKey, stranger.verifierKey], witnesses, minWitnesses: 1 }).catch((e: unknown) => e);
    assert.ok(err instanceof BundleVerifyError && err.reason === 'witness-quorum');
  });

  it('counts one public key once, whatever names it signs under', async () => {
    // The same Ed25519 key under two names (a misconfiguration or a trick): one witness.
    const seedKey = w[0]!.verifierKey;
    const pub = Buffer.from(/^[^+]*\+[^+]*\+(.*)$/.exec(seedKey)![1]!, 'base64').subarray(1);
    const alias = encodeVerifierKey('alias.example', 0x04, pub);
    const signerAlias = w[0]!.signerKey.revealString().replace(/^PRIVATE\+KEY\+w1\.example\+[0-9a-f]{8}\+/, `PRIVATE+KEY+alias.example+${alias.split('+')[1]}+`);
    const dir = path.join(tmp, `b${seq++}`);
    await writeBundle(dir, await log.source(undefined, addSignatures(await log.checkpoint(), [cosigner(0), parseCosignerKey(signerAlias, clock)])));
    const err = await verifyBundle(dir, { keys: [key.verifierKey], witnesses: [seedKey, alias, w[1]!.verifierKey], minWitnesses: 2 }).catch((e: unknown) => e);
    assert.ok(err instanceof BundleVerifyError, String(err));
    assert.match(err.message, /from 1 of the 2 configured witnesses/);
  });

  it('a bad signature by a configured witness fails the checkpoint', async () => {
    const dir = await bundle([0]);
    const file = path.join(dir, 'checkpoint.note');
    const text = fs.readFileSync(file, 'utf8');
    const tampered = text.replace(/(\u2014 w1\.example \S{20})(\S)/, (_m, a: string, b: string) => `${a}${b === 'A' ? 'B' : 'A'}`);
    assert.notEqual(tampered, text);
    fs.writeFileSync(file, tampered);
    const err = await verifyBundle(dir, { keys: [key.verifierKey], witnesses, minWitnesses: 1 }).catch((e: unknown) => e);
    assert.ok(err instanceof BundleVerifyError);
    assert.equal(err.reason, 'checkpoint-invalid');
  });

  it('checks its options', async () => {
    const dir = await bundle([0]);
    const usage = async (opts: { witnesses?: string[]; minWitnesses?: number }, re: RegExp): Promise<void> => {
      const err = await verifyBundle(dir, { keys: [key.verifierKey], ...opts }).catch((e: unknown) => e);
      assert.ok(err instanceof EvidenceError && err.code === 'EVIDENCE_KEY_INVALID', String(err));
      assert.match(err.message, re);
    };
    await usage({ witnesses: [key.verifierKey], minWitnesses: 1 }, /not a cosigner key/);
    await usage({ witnesses: [witnesses[0]!], minWitnesses: 2 }, /needs at least 2 distinct witness keys; 1 given/);
    await usage({ minWitnesses: 1 }, /0 given/);
    await usage({ witnesses, minWitnesses: -1 }, /non-negative/);
    // minWitnesses 0 (or absent) keeps the old behaviour: cosignatures are optional.
    const r = await verifyBundle(await bundle([]), { keys: [key.verifierKey], witnesses, minWitnesses: 0 });
    assert.equal(r.witnessQuorum, undefined);
  });
});
