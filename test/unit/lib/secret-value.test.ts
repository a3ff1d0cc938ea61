import { strict as assert } from 'node:assert';
import { format, inspect } from 'node:util';
import { createLogger } from '../../../src/lib/logger';
import { SecretValue } from '../../../src/lib/secret-value';
import { LogCapture } from '../../helpers/broker-harness';

describe('SecretValue', () => {
  const plain = 'sk_live_51Hc0ffee';
  const s = SecretValue.fromString(plain);

  it('prints as [REDACTED] in every form', () => {
    const forms = [String(s), `${s}`, s + '', JSON.stringify({ s }), inspect(s), inspect({ nested: { s } }, { depth: 5 }), format('%s %o %O %j', s, s, s, s)];
    for (const f of forms) {
      assert.ok(!f.includes(plain), f);
      assert.ok(f.includes('[REDACTED]'), f);
    }
  });

  it('reveals the bytes only on purpose', () => {
    assert.equal(s.revealString(), plain);
    assert.ok(s.equals(SecretValue.fromString(plain)));
    const w = SecretValue.fromString('x');
    w.wipe();
    assert.equal(w.reveal()[0], 0);
  });

  it('never reaches pino logs, even through an error or under a tell-tale key', async () => {
    const cap = new LogCapture();
    const log = createLogger({ level: 'debug', destination: cap });
    log.info({ s, nested: { value: s }, password: plain, headers: { authorization: `Bearer ${plain}` } }, 'hello');
    log.error({ err: new Error(`oops ${s}`) }, 'failed');
    await new Promise((r) => setTimeout(r, 20));
    assert.ok(!cap.text.includes(plain), cap.text);
  });
});
