import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateNoteKey } from '../../../src/evidence/note-key';
import { ensureCosignerKey, loadCosignerKey } from '../../../src/witness/cosigner-key';

describe('witness/cosigner-key', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'witness-key-'));
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('creates a 0600 key once and loads the same key afterwards', async () => {
    const file = path.join(tmp, 'keys', 'witness.key');
    const a = await ensureCosignerKey(file, 'witness.example.org/w1');
    assert.equal(a.created, true);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    assert.match(fs.readFileSync(file, 'utf8'), /^PRIVATE\+KEY\+witness\.example\.org\/w1\+[0-9a-f]{8}\+\S+\n$/);
    assert.match(a.verifierKey, /^witness\.example\.org\/w1\+[0-9a-f]{8}\+B/); // base64 of 0x04 starts "B"
    assert.equal(String(a.signerKey), '[REDACTED]');
    const b = await ensureCosignerKey(file, 'witness.example.org/w1');
    assert.equal(b.created, false);
    assert.equal(b.verifierKey, a.verifierKey);
  });

  it('refuses a key the group or others may read, unless dev mode allows it (and says so)', async () => {
    const file = path.join(tmp, 'witness.key');
    await ensureCosignerKey(file, 'w1');
    fs.chmodSync(file, 0o640);
    await assert.rejects(loadCosignerKey(file, 'w1'), /accessible by group or others \(mode 0640\)/);
    const warnings: string[] = [];
    await loadCosignerKey(file, 'w1', { allowInsecurePermissions: true, warn: (m) => warnings.push(m) });
    assert.match(warnings[0]!, /insecure mode 0640/);
  });

  it('refuses a key with another name, a log key, and a missing file', async () => {
    const file = path.join(tmp, 'witness.key');
    await ensureCosignerKey(file, 'w1');
    await assert.rejects(loadCosignerKey(file, 'w2'), /named "w1", but the config's name is "w2"/);
    const logKeyFile = path.join(tmp, 'log.key');
    fs.writeFileSync(logKeyFile, `${generateNoteKey('w1').signerKey.revealString()}\n`, { mode: 0o600 });
    await assert.rejects(loadCosignerKey(logKeyFile, 'w1'), (e: Error) => /key type 0x01, want 0x04/.test(e.message) && !e.message.includes('PRIVATE'));
    await assert.rejects(loadCosignerKey(path.join(tmp, 'none'), 'w1'), /does not exist/);
  });
});
