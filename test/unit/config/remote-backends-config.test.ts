import { strict as assert } from 'node:assert';
import { compileConfig } from '../../../src/config/compile';
import { problemAt } from '../../helpers/config-problems';

type Raw = Record<string, unknown>;

const good = (): Raw => ({
  listen: '127.0.0.1:7443',
  tls: { ca: 'ca.pem', cert: 'server.pem', key: 'server.key' },
  state: { sqlite: 'broker.db' },
  evidence: { origin: 'example.org/secret-broker', signing_key: 'evidence.key' },
  backends: {
    local: { kind: 'local', path: 'secrets.sealed', key_file: 'master.key' },
    vault: { kind: 'vault', address: 'https://vault.example:8200', token_file: 'vault-token' },
    aws: { kind: 'aws-secrets-manager', region: 'eu-west-1' },
  },
  secrets: {
    'helpdesk-token': { backend: 'local', name: 'helpdesk-token' },
    'crm-token': { backend: 'vault', name: 'app/crm', field: 'token' },
    'stripe-key': { backend: 'aws', id: 'prod/stripe', field: 'api_key' },
  },
  actions: {
    'tickets.update': {
      http: { base_url: 'https://helpdesk.example.com/api', methods: ['PUT'], paths: ['/tickets/{id}'], auth: { bearer: 'crm-token' } },
    },
    'reporting.db': { vault_dynamic: { backend: 'vault', role: 'readonly', connection: { host: 'db.internal', database: 'app' } } },
  },
  agents: { 'support-bot': { id: 'spiffe://example.org/agent/support-bot', groups: ['support'] } },
  policies: 'policies/',
});

const backends = (raw: Raw): Record<string, Raw> => raw['backends'] as Record<string, Raw>;
const secrets = (raw: Raw): Record<string, Raw> => raw['secrets'] as Record<string, Raw>;
const actions = (raw: Raw): Record<string, Raw> => raw['actions'] as Record<string, Raw>;

describe('config: vault and aws-secrets-manager backends', () => {
  it('compiles both kinds with their defaults (mount secret, database mount, cache 30s, timeout 5s, breaker 5 / 10s)', () => {
    const c = compileConfig(good(), '/etc/sb/config.yaml');
    const v = c.backends['vault']!;
    assert.equal(v.kind, 'vault');
    if (v.kind !== 'vault') return;
    assert.equal(v.address, 'https://vault.example:8200');
    assert.equal(v.mount, 'secret');
    assert.equal(v.databaseMount, 'database');
    assert.deepEqual(v.auth, { kind: 'token_file', tokenFile: '/etc/sb/vault-token' });
    assert.deepEqual([v.cacheTtlMs, v.timeoutMs, v.breakerFailures, v.breakerOpenMs], [30_000, 5_000, 5, 10_000]);
    const a = c.backends['aws']!;
    assert.ok(a.kind === 'aws-secrets-manager' && a.region === 'eu-west-1' && a.endpoint === undefined && a.cacheTtlMs === 30_000);
    assert.deepEqual(c.secrets['crm-token'], { name: 'crm-token', backend: 'vault', ref: 'app/crm', field: 'token' });
    assert.deepEqual(c.secrets['stripe-key'], { name: 'stripe-key', backend: 'aws', ref: 'prod/stripe', field: 'api_key' });
    assert.deepEqual(c.actions['reporting.db']!.vaultDynamic, { backend: 'vault', role: 'readonly', connection: { host: 'db.internal', port: 5432, database: 'app' } });
  });

  it('vault auth is exactly one of token_file or approle { role_id, secret_id_file }', () => {
    const raw = good();
    backends(raw)['vault'] = { kind: 'vault', address: 'https://vault:8200', approle: { role_id: 'r-1', secret_id_file: 'sid' }, cache_ttl: '0s', namespace: 'team-a' };
    const v = compileConfig(raw, '/etc/sb/config.yaml').backends['vault']!;
    assert.ok(v.kind === 'vault');
    assert.deepEqual(v.auth, { kind: 'approle', roleId: 'r-1', secretIdFile: '/etc/sb/sid', mount: 'approle' });
    assert.equal(v.cacheTtlMs, 0);
    assert.equal(v.namespace, 'team-a');
    backends(raw)['vault'] = { kind: 'vault', address: 'https://vault:8200' };
    assert.match(problemAt(raw, 'backends.vault'), /exactly one of token_file or approle/);
    backends(raw)['vault'] = { kind: 'vault', address: 'https://vault:8200', token_file: 't', approle: { role_id: 'r', secret_id_file: 's' } };
    assert.match(problemAt(raw, 'backends.vault'), /exactly one of token_file or approle/);
    backends(raw)['vault'] = { kind: 'vault', address: 'https://vault:8200', approle: { role_id: 'r' } };
    assert.match(problemAt(raw, 'backends.vault.approle.secret_id_file'), /required/);
  });

  it('refuses an address with a path, credentials or query, and bad durations, naming the field', () => {
    for (const address of ['https://vault:8200/v1', 'https://u:p@vault:8200', 'vault:8200', 'https://vault:8200?x=1', 'ftp://vault']) {
      const raw = good();
      backends(raw)['vault']!['address'] = address;
      assert.match(problemAt(raw, 'backends.vault.address'), /http\(s\) URL with a host and optional port only/, address);
    }
    const raw = good();
    backends(raw)['aws'] = { kind: 'aws-secrets-manager', region: 'eu-west-1', endpoint: 'http://127.0.0.1:5000/path', cache_ttl: 'soon', timeout: '1h', breaker: { failures: 0, open_for: '1ms' } };
    assert.match(problemAt(raw, 'backends.aws.endpoint'), /no path/);
    assert.match(problemAt(raw, 'backends.aws.cache_ttl'), /duration/);
    assert.match(problemAt(raw, 'backends.aws.timeout'), /100ms to 2m, got "1h"/);
    assert.match(problemAt(raw, 'backends.aws.breaker.failures'), /integer from 1/);
    assert.match(problemAt(raw, 'backends.aws.breaker.open_for'), /100ms to 1h, got "1ms"/);
    backends(raw)['aws'] = { kind: 'aws-secrets-manager', region: 'eu-west-1', timeout: '0s' };
    assert.match(problemAt(raw, 'backends.aws.timeout'), /must be greater than zero .*got "0s"/);
  });

  it('any zero cache_ttl ("0s", "0m", "0ms") disables the cache', () => {
    for (const zero of ['0s', '0m', '0ms']) {
      const raw = good();
      backends(raw)['aws'] = { kind: 'aws-secrets-manager', region: 'eu-west-1', cache_ttl: zero };
      const b = compileConfig(raw, '/etc/sb/config.yaml').backends['aws']!;
      assert.ok(b.kind === 'aws-secrets-manager');
      assert.equal(b.cacheTtlMs, 0, zero);
    }
  });

  it('wants https:// for vault and aws endpoints; plain http:// only on loopback (a local Vault Agent or proxy)', () => {
    for (const [address, endpoint] of [['http://vault.example.com:8200', 'http://secretsmanager.example.com'], ['http://10.0.0.5:8200', 'http://[fd00::1]:5000']]) {
      const raw = good();
      backends(raw)['vault']!['address'] = address;
      backends(raw)['aws']!['endpoint'] = endpoint;
      assert.match(problemAt(raw, 'backends.vault.address'), /expected https:\/\/ .*only for a loopback address/);
      assert.match(problemAt(raw, 'backends.aws.endpoint'), /expected https:\/\//);
      raw['dev_mode'] = true;
      assert.match(problemAt(raw, 'backends.vault.address'), /expected https:\/\//, 'dev mode does not lift it either');
    }
    for (const [address, endpoint] of [['http://127.0.0.1:8200', 'http://localhost:5000'], ['https://vault.example.com', 'http://[::1]:5000']]) {
      const raw = good();
      backends(raw)['vault']!['address'] = address;
      backends(raw)['aws']!['endpoint'] = endpoint;
      compileConfig(raw, '/etc/sb/config.yaml');
    }
  });

  it('checks each secret against its backend kind', () => {
    const cases: Array<[string, Raw, string, RegExp]> = [
      ['aws named by name', { backend: 'aws', name: 'prod/stripe' }, 'secrets.s.name', /named by id/],
      ['vault named by id', { backend: 'vault', id: 'app/crm' }, 'secrets.s.id', /named by name/],
      ['a field on local', { backend: 'local', name: 'x', field: 'f' }, 'secrets.s.field', /one opaque value/],
      ['a version on aws', { backend: 'aws', id: 'x', version: 2 }, 'secrets.s.version', /only a vault secret/],
      ['a vault path with ..', { backend: 'vault', name: 'app/../sys' }, 'secrets.s.name', /"\.\."/],
      ['a vault path with a query', { backend: 'vault', name: 'app/crm?version=1' }, 'secrets.s.name', /KV path/],
      ['a version that is not a positive integer', { backend: 'vault', name: 'app/crm', version: 0 }, 'secrets.s.version', /integer from 1/],
    ];
    for (const [what, sec, at, want] of cases) {
      const raw = good();
      secrets(raw)['s'] = sec;
      assert.match(problemAt(raw, at), want, what);
    }
  });

  it('vault_dynamic must name a vault backend and one role (no other Vault path)', () => {
    let raw = good();
    actions(raw)['reporting.db'] = { vault_dynamic: { backend: 'aws', role: 'readonly', connection: { host: 'db', database: 'app' } } };
    assert.match(problemAt(raw, 'actions.reporting.db.vault_dynamic.backend'), /kind vault/);
    for (const role of ['../sys/leases', 'readonly/extra', 'a b', '']) {
      raw = good();
      actions(raw)['reporting.db'] = { vault_dynamic: { backend: 'vault', role, connection: { host: 'db', database: 'app' } } };
      assert.match(problemAt(raw, 'actions.reporting.db.vault_dynamic.role'), /role name|non-empty/, role);
    }
    raw = good();
    actions(raw)['reporting.db'] = { vault_dynamic: { backend: 'vault', role: 'readonly', path: 'sys/raw', connection: { host: 'db', database: 'app' } } };
    assert.match(problemAt(raw, 'actions.reporting.db.vault_dynamic.path'), /unknown key/);
    raw = good();
    actions(raw)['reporting.db'] = { vault_dynamic: { backend: 'vault', role: 'r', connection: { host: 'db', database: 'app' } }, http: (actions(good())['tickets.update']!)['http'] };
    assert.match(problemAt(raw, 'actions.reporting.db'), /exactly one of http, postgres or vault_dynamic/);
  });
});
