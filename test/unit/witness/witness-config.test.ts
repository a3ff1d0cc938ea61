import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { ConfigError } from '../../../src/config/problems';
import { generateCosignerKey } from '../../../src/evidence/cosignature';
import { generateNoteKey } from '../../../src/evidence/note-key';
import { parseWitnessConfigText } from '../../../src/witness/witness-config';

describe('witness/witness-config', () => {
  const log = generateNoteKey('example.org/secret-broker');
  const other = generateNoteKey('example.org/other');
  const file = '/etc/witness/witness.yaml';
  const good = `
listen: 127.0.0.1:7380
state: var/witness-state.json
key: var/witness.key
name: witness.example.org/w1
logs:
  - origin: example.org/secret-broker
    key: "${log.verifierKey}"
  - origin: example.org/other
    key: "${other.verifierKey}"
`;

  const problems = (text: string): Record<string, string> => {
    try {
      parseWitnessConfigText(text, file);
    } catch (err) {
      assert.ok(err instanceof ConfigError, String(err));
      return Object.fromEntries(err.problems.map((p) => [p.path, p.message]));
    }
    return assert.fail('config accepted');
  };

  it('loads a good config, resolving paths against its directory', () => {
    const c = parseWitnessConfigText(good, file);
    assert.deepEqual(c.listen, { host: '127.0.0.1', port: 7380 });
    assert.equal(c.statePath, path.resolve('/etc/witness/var/witness-state.json'));
    assert.equal(c.keyPath, path.resolve('/etc/witness/var/witness.key'));
    assert.equal(c.name, 'witness.example.org/w1');
    assert.deepEqual(c.logs, [
      { origin: 'example.org/secret-broker', key: log.verifierKey },
      { origin: 'example.org/other', key: other.verifierKey },
    ]);
    assert.equal(c.tls, undefined);
    assert.equal(c.devMode, false);
    const t = parseWitnessConfigText(`${good}tls: { cert: c.pem, key: k.pem }\n`.replace('127.0.0.1:7380', '0.0.0.0:443'), file);
    assert.deepEqual(t.tls, { cert: path.resolve('/etc/witness/c.pem'), key: path.resolve('/etc/witness/k.pem') });
  });

  it('reports every problem with its path, unknown keys included', () => {
    const p = problems(`
listen: nowhere
state: 7
name: "bad name"
extra: 1
logs:
  - origin: example.org/secret-broker
    key: "${other.verifierKey}"
  - origin: example.org/other
    key: "${generateCosignerKey('example.org/other').verifierKey}"
  - origin: example.org/x
    key: not-a-key
    colour: blue
  - just a string
tls: { cert: c.pem, pass: x }
`);
    assert.match(p['listen']!, /expected host:port/);
    assert.match(p['state']!, /expected a file path/);
    assert.match(p['key']!, /is required/);
    assert.match(p['name']!, /no space/);
    assert.equal(p['extra'], 'unknown key');
    assert.match(p['logs[0].key']!, /named "example.org\/other"; a log key is named after its origin/);
    assert.match(p['logs[1].key']!, /type 0x01/);
    assert.match(p['logs[2].key']!, /verifier key/);
    assert.equal(p['logs[2].colour'], 'unknown key');
    assert.match(p['logs[3]']!, /expected a mapping/);
    assert.match(p['tls.key']!, /is required/);
    assert.equal(p['tls.pass'], 'unknown key');
  });

  it('wants logs, and each key once', () => {
    assert.match(problems(good.replace(/logs:[\s\S]*$/, 'logs: []\n'))['logs']!, /non-empty list/);
    assert.match(problems(good.replace(/logs:[\s\S]*$/, ''))['logs']!, /is required/);
    const twice = `${good}  - origin: example.org/other\n    key: "${other.verifierKey}"\n`;
    assert.match(problems(twice)['logs[2].key']!, /listed twice/);
  });

  it('serves plain HTTP on loopback only, unless dev_mode', () => {
    const open = good.replace('127.0.0.1:7380', '0.0.0.0:7380');
    assert.match(problems(open)['listen']!, /not loopback: configure tls, or set dev_mode: true/);
    assert.equal(parseWitnessConfigText(`${open}dev_mode: true\n`, file).devMode, true);
    assert.equal(parseWitnessConfigText(good.replace('127.0.0.1:7380', '"[::1]:7380"'), file).listen.host, '::1');
    assert.equal(parseWitnessConfigText(good.replace('127.0.0.1:7380', 'localhost:7380'), file).listen.host, 'localhost');
  });

  it('reports YAML errors with line numbers', () => {
    const p = problems('listen: 127.0.0.1:1\nlisten: 127.0.0.1:2\n');
    assert.ok(Object.keys(p).some((k) => /^line 2/.test(k)), JSON.stringify(p));
  });
});
