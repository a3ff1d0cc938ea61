import { strict as assert } from 'node:assert';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { tempDir } from '../../helpers/broker-harness';
import { runCapture } from '../../helpers/run-cli';

describe('cli frame', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => (tmp = tempDir()));
  afterEach(() => tmp.cleanup());

  it('exits 2 with usage for no command, an unknown command and a bad flag', async () => {
    assert.equal((await runCapture([])).code, 2);
    const unknown = await runCapture(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /unknown command/);
    const bad = await runCapture(['config', 'check', '--nope']);
    assert.equal(bad.code, 2);
    assert.equal(bad.err.trim().split('\n').length, 1, 'one line');
  });

  it('config check reports every problem at once and exits 1', async () => {
    const f = path.join(tmp.dir, 'broken.yaml');
    writeFileSync(
      f,
      [
        'listen: nowhere',
        'tls: { ca: ca.pem, cert: 7, key: k }',
        'state: { sqlite: db, postgres: { url_env: X } }',
        'evidence: { origin: "has space", signing_key: e.key }',
        'policies: p/',
        'agents: { a: { id: not-a-uri } }',
        'mystery: 1',
      ].join('\n'),
    );
    const r = await runCapture(['config', 'check', '--config', f]);
    assert.equal(r.code, 1);
    for (const p of ['listen', 'tls.cert', 'state', 'evidence.origin', 'agents.a.id', 'mystery']) assert.match(r.err, new RegExp(`\\b${p.replace('.', '\\.')}: `), p);
    assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace');
    const j = await runCapture(['config', 'check', '--config', f, '--json']);
    const parsed = JSON.parse(j.out) as { ok: boolean; problems: Array<{ path: string }> };
    assert.equal(parsed.ok, false);
    // state holds two: both stores, and postgres (not built yet).
    assert.equal(parsed.problems.length, 7, JSON.stringify(parsed.problems));
  });

  it('config check accepts rotation on a local and an AWS secret, and refuses field on a rotated AWS secret, naming its path', async () => {
    const dev = path.resolve(__dirname, '../../../deploy/dev/config.yaml');
    const text = readFileSync(dev, 'utf8')
      .replace(/helpdesk-token: \{ backend: local, name: helpdesk-token \}/, 'helpdesk-token: { backend: local, name: helpdesk-token, rotation: { every: 30d, generator: { kind: random, length: 40 } } }')
      .replace(/\.\.\/\.\.\//g, path.resolve(__dirname, '../../..') + '/')
      .replace(/policies: policies\//, `policies: ${path.resolve(__dirname, '../../../deploy/dev/policies')}`);
    assert.match(text, /rotation:/);
    const f = path.join(tmp.dir, 'rotation.yaml');
    writeFileSync(f, text);
    const ok = await runCapture(['config', 'check', '--config', f]);
    assert.equal(ok.code, 0, ok.err);
    const aws = text
      .replace(/^backends:\n/m, 'backends:\n  aws: { kind: aws-secrets-manager, region: eu-west-1 }\n')
      .replace(/^secrets:\n/m, 'secrets:\n  billing-key: { backend: aws, id: prod/billing, rotation: { every: 30d, generator: { kind: random, length: 40 } } }\n');
    writeFileSync(f, aws);
    const accepted = await runCapture(['config', 'check', '--config', f]);
    assert.equal(accepted.code, 0, accepted.err);
    writeFileSync(f, aws.replace('id: prod/billing,', 'id: prod/billing, field: key,'));
    const r = await runCapture(['config', 'check', '--config', f]);
    assert.equal(r.code, 1, r.out);
    assert.match(r.err, /secrets\.billing-key\.rotation: a rotated aws-secrets-manager secret is written whole/);
    assert.equal(r.err.trim().split('\n').filter((l) => /: /.test(l) && !/written whole/.test(l) && /^\s/.test(l)).length, 0, r.err);
  });

  it('config check accepts the dev config', async () => {
    const r = await runCapture(['config', 'check', '--config', path.resolve(__dirname, '../../../deploy/dev/config.yaml'), '--json']);
    assert.equal(r.code, 0, r.err);
    assert.equal((JSON.parse(r.out) as { ok: boolean }).ok, true);
  });

  it('pki init writes keys 0600, keeps the CA key apart, and distinct SPIFFE ids', async function () {
    this.timeout(20_000);
    const dir = path.join(tmp.dir, 'pki');
    const r = await runCapture(['pki', 'init', '--dir', dir, '--agent', 'bot1', '--operator', 'alice', '--json']);
    assert.equal(r.code, 0, r.err);
    const layout = JSON.parse(r.out) as { caKey: string; serverKey: string; agents: Record<string, { key: string; id: string }>; operators: Record<string, { key: string; id: string }> };
    assert.equal(path.dirname(layout.caKey), path.join(dir, 'ca'));
    for (const k of [layout.caKey, layout.serverKey, layout.agents['bot1']!.key, layout.operators['alice']!.key]) {
      assert.equal(statSync(k).mode & 0o777, 0o600, k);
    }
    assert.equal(layout.agents['bot1']!.id, 'spiffe://example.org/agent/bot1');
    assert.equal(layout.operators['alice']!.id, 'spiffe://example.org/human/alice');
    const again = await runCapture(['pki', 'init', '--dir', dir, '--agent', 'bot1']);
    assert.equal(again.code, 1, 'refuses to overwrite');
  });

  it('report without --config is a usage error naming the flag (it was the last planned command)', async () => {
    const r = await runCapture(['report']);
    assert.equal(r.code, 2);
    assert.match(r.err, /report needs --config FILE/);
  });
});
