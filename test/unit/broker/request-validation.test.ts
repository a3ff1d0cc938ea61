import { strict as assert } from 'node:assert';
import { compileConfig } from '../../../src/config/compile';
import { checkParams, checkStatedResource, renderResource } from '../../../src/broker/request-validation';
import { BrokerError } from '../../../src/lib/errors';

const actionWith = (resource: string | undefined, context: Record<string, string>) =>
  compileConfig(
    {
      listen: '127.0.0.1:7443',
      tls: { ca: 'ca.pem', cert: 'server.pem', key: 'server.key' },
      state: { sqlite: 'broker.db' },
      evidence: { origin: 'example.org/secret-broker', signing_key: 'evidence.key' },
      backends: { local: { kind: 'local', path: 'secrets.sealed', key_file: 'master.key' } },
      secrets: { tok: { backend: 'local' } },
      actions: {
        'tickets.update': {
          http: { base_url: 'https://h.example', methods: ['PUT'], paths: ['/t/{id}'], auth: { bearer: 'tok' }, context },
          ...(resource === undefined ? {} : { resource }),
        },
      },
      policies: 'policies/',
    },
    '/etc/sb/config.yaml',
  ).actions['tickets.update']!;

const invalid = (field: RegExp) => (e: unknown) => e instanceof BrokerError && e.kind === 'invalid_argument' && field.test(e.message);

describe('broker/request-validation: resources and params', () => {
  it('renders a template from the declared context values', () => {
    const a = actionWith('org/{org}/ticket/{ticket}', { ticket: 'path.id', org: 'body.org' });
    assert.equal(renderResource(a, { ticket: 'T-1', org: 'acme' }, (f) => `params.${f}`), 'org/acme/ticket/T-1');
    assert.equal(renderResource(actionWith('ticket/{n}', { n: 'body.n' }), { n: -12 }, (f) => f), 'ticket/-12');
    assert.equal(renderResource(actionWith('stripe', {}), {}, (f) => f), 'stripe');
    assert.equal(renderResource(actionWith(undefined, {}), {}, (f) => f), 'tickets.update', 'the action name by default');
  });

  it('refuses a value that is not one segment of [A-Za-z0-9._~-], naming the field', () => {
    const a = actionWith('ticket/{ticket}', { ticket: 'path.id' });
    for (const bad of ['a/b', '', 'a b', 'x?y', 'é', 'a'.repeat(257)]) {
      assert.throws(() => renderResource(a, { ticket: bad }, (f) => `params.${f}`), invalid(/^params\.ticket: /), JSON.stringify(bad));
    }
    assert.throws(() => renderResource(a, {}, (f) => `params.${f}`), invalid(/^params\.ticket: /));
  });

  it('a stated resource is empty or exactly the rendered one', () => {
    assert.equal(checkStatedResource('', 'ticket/T-1'), 'ticket/T-1');
    assert.equal(checkStatedResource('ticket/T-1', 'ticket/T-1'), 'ticket/T-1');
    assert.throws(() => checkStatedResource('ticket/T-2', 'ticket/T-1'), invalid(/^resource: is "ticket\/T-2", but this call is on "ticket\/T-1"/));
  });

  it('params are at most 8 KiB of canonical JSON', () => {
    assert.deepEqual(checkParams({ a: 'x'.repeat(8000) }), { a: 'x'.repeat(8000) });
    assert.throws(() => checkParams({ a: 'x'.repeat(8200) }), invalid(/^params: at most 8192 bytes/));
  });
});
