import { strict as assert } from 'node:assert';
import { checkPostgresGrants } from '../../../src/broker/postgres-grant-check';
import type { DynamicCredentialSource } from '../../../src/broker/dynamic-credentials';
import type { ActionConfig, PostgresGrant } from '../../../src/config/config-types';
import { BrokerError } from '../../../src/lib/errors';
import { createLogger } from '../../../src/lib/logger';
import { LogCapture } from '../../helpers/broker-harness';

/** The retry of an unreachable backend (finding F5); the checks themselves run against PostgreSQL in test/integration/postgres-leases.test.ts. */
describe('checkPostgresGrants: a backend that cannot be reached is checked again, from where it stopped', () => {
  const grant = (schema: string): PostgresGrant => ({ privilege: 'SELECT', schema });
  const action = (name: string, ...schemas: string[]): ActionConfig => ({ name, postgres: { backend: 'appdb', grants: schemas.map(grant) } }) as unknown as ActionConfig;
  const actions = { a: action('a', 's1'), b: action('b', 'ghost', 's2'), c: action('c', 's3') };

  /** validate answers from `script` in order (then ok): 'down' is unavailable, 'missing' a refused grant. */
  function source(script: Array<'down' | 'ok'>, checked: string[]): DynamicCredentialSource {
    const backend = {
      validate: async (spec: { grants: readonly PostgresGrant[] }) => {
        const schema = spec.grants[0]!.schema;
        if (script.shift() === 'down') throw new BrokerError('unavailable', 'backend "appdb" (postgres) is unavailable: could not connect');
        checked.push(schema);
        if (schema === 'ghost') throw new BrokerError('failed_precondition', 'backend "appdb" (postgres): schema ghost does not exist');
      },
    };
    return { forAction: (a) => ({ backend: backend as never, spec: a.postgres }), byName: () => undefined };
  }

  it('logs what is left unchecked and when it is checked again, backs off, and goes on from the action it stopped at', async () => {
    const logs = new LogCapture();
    const checked: string[] = [];
    // a passes; b's first grant: down twice; then everything answers.
    await checkPostgresGrants({ actions, source: source(['ok', 'down', 'down'], checked), log: createLogger({ level: 'debug', destination: logs }), retryMs: 10, maxRetryMs: 15 });
    assert.deepEqual(checked, ['s1', 'ghost', 's2', 's3'], 'a is not checked again');
    const text = logs.text;
    assert.match(text, /could not check the grants of b, c on backend appdb: backend .*appdb.* \(postgres\) is unavailable: could not connect; checked again in 10 ms/);
    assert.match(text, /could not check the grants of b, c on backend appdb: .*; checked again in 15 ms/, 'doubled, up to the maximum');
    assert.equal(text.match(/grant SELECT on schema ghost cannot be given/g)?.length, 1);
    assert.match(text, /checked the grants of 3 actions on backend appdb: 1 has grants that cannot be given/);
  });

  it('stops retrying when the daemon stops', async () => {
    const logs = new LogCapture();
    const stop = new AbortController();
    const done = checkPostgresGrants({ actions, source: source(Array(100).fill('down'), []), log: createLogger({ level: 'debug', destination: logs }), retryMs: 60_000, signal: stop.signal });
    await new Promise((r) => setTimeout(r, 20));
    stop.abort();
    await done;
    assert.equal(logs.text.match(/could not check the grants/g)?.length, 1);
    assert.doesNotMatch(logs.text, /checked the grants of/);
  });
});
