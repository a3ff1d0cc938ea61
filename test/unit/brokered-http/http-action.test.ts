import { strict as assert } from 'node:assert';
import { compileHttpAction, DEFAULT_HTTP_LIMITS, defineHttpAction, HttpActionSpecError, type HttpActionInit } from '../../../src/brokered-http';
import { createTestCa } from '../../helpers/test-ca';

const base: HttpActionInit = {
  name: 'tickets.update',
  baseUrl: 'https://helpdesk.example.com/api/',
  methods: ['put'],
  paths: ['/tickets/{id}'],
  auth: { kind: 'bearer', secret: 'helpdesk-token' },
};

describe('brokered-http action spec', () => {
  it('compiles a frozen, defaulted spec', () => {
    const spec = defineHttpAction(base);
    assert.equal(spec.origin, 'https://helpdesk.example.com');
    assert.equal(spec.basePath, '/api');
    assert.equal(spec.port, 443);
    assert.deepEqual(spec.methods, ['PUT']);
    assert.deepEqual(spec.limits, DEFAULT_HTTP_LIMITS);
    assert.equal(spec.authHeader, 'authorization');
    assert.equal(spec.jsonBody, false);
    assert.ok(Object.isFrozen(spec) && Object.isFrozen(spec.templates[0]) && Object.isFrozen(spec.limits) && Object.isFrozen(spec.auth));
    assert.throws(() => (spec.methods as string[]).push('DELETE'));
  });

  it('splits CA bundles and keeps them apart from the defaults', async () => {
    const a = await createTestCa('a');
    const b = await createTestCa('b');
    const spec = defineHttpAction({ ...base, extraCaPem: [`${a.certPem}\n${b.certPem}`] });
    assert.equal(spec.extraCaPem.length, 2);
  });

  it('reports every problem at once, with paths', () => {
    const r = compileHttpAction({
      name: 'x',
      baseUrl: 'http://user:pw@example.com/?q=1',
      methods: ['TRACE'],
      paths: ['/a/{id}', '/b/{ID}', 'nope'],
      auth: { kind: 'basic', username: 'a:b', secret: 's' },
      allowNetworks: ['127.0.0.1/8', '10.0.0.0/8'],
      allowHeaders: ['authorization', 'x-http-method-override', 'bad header'],
      extraCaPem: ['not a pem'],
      context: { amount: 'body.amount', id: 'path.other', Bad: 'query.q', z: 'cookie.x' },
      integerFields: ['amount', 'nope'],
      limits: { deadlineMs: 0 },
    });
    assert.equal(r.spec, undefined);
    const paths = r.problems.map((p) => p.path);
    for (const p of [
      'base_url',
      'methods[0]',
      'paths[1]',
      'paths[2]',
      'auth.basic.username',
      'allow_networks[0]',
      'allow_headers[0]',
      'allow_headers[1]',
      'allow_headers[2]',
      'ca_files[0]',
      'context.id',
      'context.Bad',
      'context.z',
      'integer_fields[1]',
      'limits.deadlineMs',
    ]) {
      assert.ok(paths.includes(p), `missing problem at ${p}: ${JSON.stringify(r.problems)}`);
    }
    assert.throws(() => defineHttpAction({ ...base, methods: [] }), HttpActionSpecError);
  });

  it('refuses a credential header that cannot carry one', () => {
    const r = compileHttpAction({ ...base, auth: { kind: 'header', header: 'Transfer-Encoding', secret: 's' } });
    assert.deepEqual(r.problems.map((p) => p.path), ['auth.header.name']);
  });
});
