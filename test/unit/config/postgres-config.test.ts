import { strict as assert } from 'node:assert';
import { compileConfig } from '../../../src/config/compile';
import { problemAt, problemsOf } from '../../helpers/config-problems';

type Raw = Record<string, unknown>;

const good = (): Raw => ({
  listen: '127.0.0.1:7443',
  tls: { ca: 'ca.pem', cert: 'server.pem', key: 'server.key' },
  state: { sqlite: 'broker.db' },
  evidence: { origin: 'example.org/secret-broker', signing_key: 'evidence.key' },
  backends: {
    local: { kind: 'local', path: 'secrets.sealed', key_file: 'master.key' },
    appdb: { kind: 'postgres', url_secret: { backend: 'local', name: 'appdb-admin' } },
  },
  secrets: {},
  actions: {
    'analytics.query': { postgres: { backend: 'appdb', grants: [{ privilege: 'select', schema: 'analytics' }, { privilege: 'UPDATE', schema: 'billing', table: 'invoices' }], ttl: '10m' } },
  },
  agents: { 'support-bot': { id: 'spiffe://example.org/agent/support-bot', groups: ['support'] } },
  policies: 'policies/',
});

const backends = (raw: Raw): Record<string, Raw> => raw['backends'] as Record<string, Raw>;
const pgAction = (raw: Raw): Raw => ((raw['actions'] as Record<string, Raw>)['analytics.query']!['postgres'] as Raw);

describe('config: postgres backends and actions', () => {
  it('compiles a backend and an action with their defaults (prefix sb_, timeout 5s, breaker 5 / 10s, connection limit 2, statement_timeout 30s)', () => {
    const c = compileConfig(good(), '/etc/sb/config.yaml');
    assert.deepEqual(c.backends['appdb'], {
      kind: 'postgres',
      name: 'appdb',
      urlSecret: { backend: 'local', name: 'appdb-admin' },
      rolePrefix: 'sb_',
      cacheTtlMs: 0,
      timeoutMs: 5_000,
      breakerFailures: 5,
      breakerOpenMs: 10_000,
    });
    const a = c.actions['analytics.query']!;
    assert.deepEqual(a.postgres, {
      backend: 'appdb',
      grants: [
        { privilege: 'SELECT', schema: 'analytics' },
        { privilege: 'UPDATE', schema: 'billing', table: 'invoices' },
      ],
      ttlMs: 600_000,
      connectionLimit: 2,
      statementTimeoutMs: 30_000,
    });
    assert.equal(a.defaultTtlMs, 600_000, 'postgres.ttl is the default TTL');
  });

  it('takes role_prefix, advertise, timeout, breaker, max_lease_connections, connection_limit and statement_timeout', () => {
    const raw = good();
    backends(raw)['appdb'] = { kind: 'postgres', url_secret: { backend: 'local', name: 'a' }, role_prefix: 'broker_', advertise: { host: 'db.internal', port: 6432 }, timeout: '2s', breaker: { failures: 3, open_for: '30s' }, max_lease_connections: 40 };
    Object.assign(pgAction(raw), { connection_limit: 5, statement_timeout: '2m' });
    const c = compileConfig(raw, '/etc/sb/config.yaml');
    const b = c.backends['appdb']!;
    assert.ok(b.kind === 'postgres');
    assert.deepEqual([b.rolePrefix, b.advertise, b.timeoutMs, b.breakerFailures, b.breakerOpenMs, b.maxLeaseConnections], ['broker_', { host: 'db.internal', port: 6432 }, 2_000, 3, 30_000, 40]);
    assert.deepEqual([c.actions['analytics.query']!.postgres!.connectionLimit, c.actions['analytics.query']!.postgres!.statementTimeoutMs], [5, 120_000]);
  });

  it('names each bad backend field and what was expected', () => {
    const cases: Array<[string, Raw, string, RegExp]> = [
      ['no url_secret', { kind: 'postgres' }, 'backends.appdb.url_secret', /required/],
      ['url_secret without a name', { kind: 'postgres', url_secret: { backend: 'local' } }, 'backends.appdb.url_secret.name', /required/],
      ['url_secret with a url in the config', { kind: 'postgres', url_secret: { backend: 'local', name: 'a', url: 'postgres://x' } }, 'backends.appdb.url_secret.url', /unknown key/],
      ['an unknown url_secret backend', { kind: 'postgres', url_secret: { backend: 'nope', name: 'a' } }, 'backends.appdb.url_secret.backend', /unknown backend "nope"/],
      ['url_secret from itself', { kind: 'postgres', url_secret: { backend: 'appdb', name: 'a' } }, 'backends.appdb.url_secret.backend', /static backend \(local, vault or aws-secrets-manager\)/],
      ['an upper-case prefix', { kind: 'postgres', url_secret: { backend: 'local', name: 'a' }, role_prefix: 'SB_' }, 'backends.appdb.role_prefix', /lower-case prefix of 1 to 31/],
      ['a prefix leaving no room for randomness', { kind: 'postgres', url_secret: { backend: 'local', name: 'a' }, role_prefix: 'p'.repeat(32) }, 'backends.appdb.role_prefix', /1 to 31/],
      ['a quote in the prefix', { kind: 'postgres', url_secret: { backend: 'local', name: 'a' }, role_prefix: 'sb"' }, 'backends.appdb.role_prefix', /lower-case prefix/],
      ['a reserved pg_ prefix', { kind: 'postgres', url_secret: { backend: 'local', name: 'a' }, role_prefix: 'pg_x' }, 'backends.appdb.role_prefix', /reserves/],
      ['max_lease_connections of 0', { kind: 'postgres', url_secret: { backend: 'local', name: 'a' }, max_lease_connections: 0 }, 'backends.appdb.max_lease_connections', /integer from 1 to 1000000, got number 0/],
      ['max_lease_connections as text', { kind: 'postgres', url_secret: { backend: 'local', name: 'a' }, max_lease_connections: '50' }, 'backends.appdb.max_lease_connections', /integer from 1/],
      ['advertise without a host', { kind: 'postgres', url_secret: { backend: 'local', name: 'a' }, advertise: { port: 5432 } }, 'backends.appdb.advertise.host', /required/],
      ['advertise with a bad port', { kind: 'postgres', url_secret: { backend: 'local', name: 'a' }, advertise: { host: 'db', port: 70000 } }, 'backends.appdb.advertise.port', /integer from 1 to 65535/],
      ['a cache_ttl that would do nothing', { kind: 'postgres', url_secret: { backend: 'local', name: 'a' }, cache_ttl: '30s' }, 'backends.appdb.cache_ttl', /caches nothing/],
      ['a timeout out of range', { kind: 'postgres', url_secret: { backend: 'local', name: 'a' }, timeout: '10m' }, 'backends.appdb.timeout', /100ms to 2m/],
      ['breaker failures of 0', { kind: 'postgres', url_secret: { backend: 'local', name: 'a' }, breaker: { failures: 0 } }, 'backends.appdb.breaker.failures', /integer from 1/],
    ];
    for (const [what, b, at, want] of cases) {
      const raw = good();
      backends(raw)['appdb'] = b;
      assert.match(problemAt(raw, at), want, what);
    }
  });

  it('url_secret may not name another postgres backend either', () => {
    const raw = good();
    backends(raw)['other'] = { kind: 'postgres', url_secret: { backend: 'local', name: 'b' } };
    backends(raw)['appdb'] = { kind: 'postgres', url_secret: { backend: 'other', name: 'a' } };
    assert.match(problemAt(raw, 'backends.appdb.url_secret.backend'), /must name a static backend.*"other"/);
  });

  it('names each bad action field and what was expected', () => {
    const cases: Array<[string, Raw, string, RegExp]> = [
      ['a privilege off the allow list', { privilege: 'TRUNCATE', schema: 'analytics' }, 'actions.analytics.query.postgres.grants[0].privilege', /one of SELECT, INSERT, UPDATE, DELETE/],
      ['ALL PRIVILEGES', { privilege: 'ALL', schema: 'analytics' }, 'actions.analytics.query.postgres.grants[0].privilege', /one of SELECT/],
      ['a quoted schema', { privilege: 'SELECT', schema: 'a"; DROP ROLE x; --' }, 'actions.analytics.query.postgres.grants[0].schema', /lower-case SQL identifier/],
      ['a dotted table', { privilege: 'SELECT', schema: 'a', table: 'b.c' }, 'actions.analytics.query.postgres.grants[0].table', /lower-case SQL identifier/],
      // The rule the README states (F6): [a-z_][a-z0-9_]{0,62}, and the message says it.
      ['an upper-case schema', { privilege: 'SELECT', schema: 'Analytics' }, 'actions.analytics.query.postgres.grants[0].schema', /1 to 63 of a-z, 0-9 and "_", not starting with a digit\), got "Analytics"/],
      ['a $ in a schema', { privilege: 'SELECT', schema: 'a$b' }, 'actions.analytics.query.postgres.grants[0].schema', /1 to 63 of a-z/],
      ['a non-ASCII table', { privilege: 'SELECT', schema: 'a', table: 'tä_b' }, 'actions.analytics.query.postgres.grants[0].table', /1 to 63 of a-z/],
      ['a table starting with a digit', { privilege: 'SELECT', schema: 'a', table: '1t' }, 'actions.analytics.query.postgres.grants[0].table', /not starting with a digit/],
      ['a 64-character schema', { privilege: 'SELECT', schema: 's'.repeat(64) }, 'actions.analytics.query.postgres.grants[0].schema', /1 to 63/],
      ['a grant option', { privilege: 'SELECT', schema: 'a', with_grant_option: true }, 'actions.analytics.query.postgres.grants[0].with_grant_option', /unknown key/],
    ];
    for (const [what, g, at, want] of cases) {
      const raw = good();
      pgAction(raw)['grants'] = [g];
      assert.match(problemAt(raw, at), want, what);
    }
    const fields: Array<[string, unknown, RegExp]> = [
      ['connection_limit', 0, /integer from 1 to 100/],
      ['connection_limit', 101, /integer from 1 to 100/],
      ['connection_limit', 'two', /integer/],
      ['statement_timeout', 'soon', /duration/],
      ['statement_timeout', '2d', /1ms to 24h/],
      ['grants', [], /non-empty list of grants/],
      ['role', 'admin', /unknown key/],
    ];
    for (const [key, value, want] of fields) {
      const raw = good();
      pgAction(raw)[key] = value;
      assert.match(problemAt(raw, `actions.analytics.query.postgres.${key}`), want, `${key}: ${JSON.stringify(value)}`);
    }
    const raw = good();
    pgAction(raw)['backend'] = 'local';
    assert.match(problemAt(raw, 'actions.analytics.query.postgres.backend'), /must name a backend of kind postgres, got "local"/);
  });

  it('refuses a grant on a PostgreSQL system schema (pg_catalog, information_schema, any pg_ name), naming the field (F4)', () => {
    for (const schema of ['pg_catalog', 'information_schema', 'pg_toast', 'pg_toast_temp_1', 'pg_temp', 'pg_temp_3', 'pg_anything']) {
      const raw = good();
      pgAction(raw)['grants'] = [{ privilege: 'SELECT', schema: 'analytics' }, { privilege: 'SELECT', schema, table: 'pg_authid' }];
      assert.match(problemAt(raw, 'actions.analytics.query.postgres.grants[1].schema'), new RegExp(`"${schema}" is a PostgreSQL system schema`), schema);
    }
    // Only the schema is reserved: an application schema whose name merely contains pg_, or a table named pg_x, is fine.
    const raw = good();
    pgAction(raw)['grants'] = [{ privilege: 'SELECT', schema: 'app_pg_data', table: 'pg_x' }, { privilege: 'SELECT', schema: 'information' }, { privilege: 'SELECT', schema: `_${'s'.repeat(62)}`, table: 't_1' }];
    assert.equal(compileConfig(raw, '/etc/sb/config.yaml').actions['analytics.query']!.postgres!.grants.length, 3);
  });

  it('lock_table: schema.table, not in a system schema, and no action of the backend may be granted on its schema', () => {
    const raw = good();
    backends(raw)['appdb']!['lock_table'] = 'sb_lock.ddl';
    const b = compileConfig(raw, '/etc/sb/config.yaml').backends['appdb'];
    assert.deepEqual(b?.kind === 'postgres' ? b.lockTable : undefined, { schema: 'sb_lock', table: 'ddl' });
    for (const [value, want] of [
      ['ddl', /expected schema\.table/],
      ['Sb.ddl', /expected schema\.table/],
      ['a.b.c', /expected schema\.table/],
      ['pg_catalog.ddl', /"pg_catalog" is a PostgreSQL system schema/],
    ] as const) {
      const bad = good();
      backends(bad)['appdb']!['lock_table'] = value;
      assert.match(problemAt(bad, 'backends.appdb.lock_table'), want, value);
    }
    const granted = good();
    backends(granted)['appdb']!['lock_table'] = 'billing.ddl_lock';
    assert.match(problemAt(granted, 'actions.analytics.query.postgres.grants[1].schema'), /is the schema of backend "appdb"'s lock_table \(billing\.ddl_lock\); no lease role may be granted on it/);
  });

  it('a zero ttl or statement_timeout must be greater than zero; one out of range names the value it got (F7)', () => {
    for (const key of ['ttl', 'statement_timeout']) {
      for (const zero of ['0s', '0ms', '0m']) {
        const raw = good();
        pgAction(raw)[key] = zero;
        const m = problemAt(raw, `actions.analytics.query.postgres.${key}`);
        assert.match(m, /must be greater than zero/, `${key}: ${zero}`);
        assert.match(m, new RegExp(`got "${zero}"`), `${key}: ${zero}`);
      }
    }
    const raw = good();
    pgAction(raw)['statement_timeout'] = '30d';
    assert.match(problemAt(raw, 'actions.analytics.query.postgres.statement_timeout'), /from 1ms to 24h, got "30d"/);
  });

  it('an action naming a postgres backend that has problems of its own gets no follow-on error (F7)', () => {
    const raw = good();
    backends(raw)['appdb'] = { kind: 'postgres', url: 'postgres://admin@db/app' };
    const problems = problemsOf(raw);
    assert.deepEqual(problems.map((p) => p.path).sort(), ['backends.appdb.url', 'backends.appdb.url_secret']);
    // A backend of another kind that is broken is still not a postgres backend.
    const other = good();
    backends(other)['appdb'] = { kind: 'local', path: 'x' };
    assert.match(problemAt(other, 'actions.analytics.query.postgres.backend'), /must name a backend of kind postgres, got "appdb"/);
  });

  it('a postgres backend holds no static secrets', () => {
    const raw = good();
    (raw['secrets'] as Raw)['x'] = { backend: 'appdb', name: 'x' };
    assert.match(problemAt(raw, 'secrets.x.backend'), /mints credentials/);
  });

  it('still refuses the postgres state store (not built yet)', () => {
    const raw = good();
    raw['state'] = { postgres: { url_env: 'BROKER_DATABASE_URL' } };
    assert.match(problemAt(raw, 'state.postgres'), /not built yet/);
  });
});
