import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { compileConfig } from '../../../src/config/compile';
import { loadConfig } from '../../../src/config/load';
import { ConfigError } from '../../../src/config/problems';
import { problemAt, problemsOf } from '../../helpers/config-problems';
import { generateCosignerKey } from '../../../src/evidence/cosignature';
import { generateNoteKey } from '../../../src/evidence/note-key';
import { tempDir } from '../../helpers/broker-harness';

const good = (): Record<string, unknown> => ({
  listen: '127.0.0.1:7443',
  health_listen: '127.0.0.1:7444',
  tls: { ca: 'ca.pem', cert: 'server.pem', key: 'server.key' },
  state: { sqlite: 'broker.db' },
  evidence: { origin: 'example.org/secret-broker', signing_key: 'evidence.key' },
  backends: { local: { kind: 'local', path: 'secrets.sealed', key_file: 'master.key' } },
  secrets: { 'helpdesk-token': { backend: 'local', name: 'helpdesk-token' } },
  actions: {
    'tickets.update': {
      http: { base_url: 'https://helpdesk.example.com/api', methods: ['PUT'], paths: ['/tickets/{id}'], auth: { bearer: 'helpdesk-token' }, allow_networks: [] },
    },
  },
  agents: { 'support-bot': { id: 'spiffe://example.org/agent/support-bot', groups: ['support'], owner: 'alice' } },
  operators: {
    alice: { id: 'spiffe://example.org/human/alice', roles: ['approver', 'admin'] },
    bob: { id: 'spiffe://example.org/human/bob', roles: ['approver'] },
  },
  approvals: { finance: { approvers: ['alice', 'bob'], required: 1, expires: '15m' } },
  policies: 'policies/',
});

describe('config', () => {
  it('compiles a good config into a frozen object with absolute paths and defaults', () => {
    const c = compileConfig(good(), '/etc/sb/config.yaml');
    assert.equal(c.tls.key, '/etc/sb/server.key');
    assert.equal(c.policies, '/etc/sb/policies');
    assert.equal(c.limits.requestsPerSecond, 50);
    assert.equal(c.agents['support-bot']!.limits.activeLeases, 1000);
    assert.equal(c.secrets['helpdesk-token']!.ref, 'helpdesk-token');
    assert.ok(Object.isFrozen(c) && Object.isFrozen(c.actions['tickets.update']!.http!.methods));
    assert.throws(() => ((c as { devMode: boolean }).devMode = true));
  });

  it('policy.cache_bytes: 16 MiB by default; an integer or a size such as "64KiB"; anything else names the field', () => {
    assert.equal(compileConfig(good(), '/etc/sb/config.yaml').policy.cacheBytes, 16 * 1024 * 1024);
    for (const [v, want] of [[65536, 65536], ['64KiB', 65536], ['16MiB', 16 * 1024 * 1024], ['1GiB', 1024 ** 3], ['512B', 512], [0, 0]] as const) {
      assert.equal(compileConfig({ ...good(), policy: { cache_bytes: v } }, '/etc/sb/config.yaml').policy.cacheBytes, want, String(v));
    }
    for (const v of ['16MB', '16 mib', -1, 1.5, '', 'lots', '5GiB', true]) {
      const problems = problemsOf({ ...good(), policy: { cache_bytes: v } });
      assert.equal(problems.length, 1, JSON.stringify(problems));
      assert.equal(problems[0]!.path, 'policy.cache_bytes');
      assert.match(problems[0]!.message, /byte count.*"16MiB"/);
    }
    assert.deepEqual(problemsOf({ ...good(), policy: { cache_size: 10 } }).map((p) => p.path), ['policy.cache_size']);
  });

  it('reports five distinct mistakes, each with its path, in one run', () => {
    const raw = good();
    raw['listen'] = 'localhost'; // 1: no port
    (raw['tls'] as Record<string, unknown>)['cert'] = 42; // 2: wrong type
    raw['colour'] = 'blue'; // 3: unknown key
    (raw['agents'] as Record<string, Record<string, unknown>>)['support-bot']!['id'] = 'support-bot'; // 4: not a URI
    (raw['actions'] as Record<string, Record<string, Record<string, unknown>>>)['tickets.update']!['http']!['auth'] = { bearer: 'nope' }; // 5: unknown secret
    const problems = problemsOf(raw);
    const paths = problems.map((p) => p.path);
    for (const want of ['listen', 'tls.cert', 'colour', 'agents.support-bot.id', 'actions.tickets.update.http.auth']) {
      assert.ok(paths.includes(want), `missing ${want} in ${JSON.stringify(problems)}`);
    }
    assert.equal(problems.length, 5, JSON.stringify(problems));
    assert.match(problems.find((p) => p.path === 'colour')!.message, /unknown key/);
    assert.match(problems.find((p) => p.path === 'listen')!.message, /host:port/);
  });

  it('rejects unknown keys at every depth, bad durations, roles and cross references', () => {
    const raw = good();
    (raw['limits'] as unknown) = { requests_per_second: 0, burts: 3 };
    (raw['approvals'] as Record<string, Record<string, unknown>>)['finance']!['expires'] = '15 minutes';
    (raw['approvals'] as Record<string, Record<string, unknown>>)['finance']!['approvers'] = ['alice', 'mallory'];
    (raw['operators'] as Record<string, Record<string, unknown>>)['alice']!['roles'] = ['root'];
    (raw['secrets'] as Record<string, Record<string, unknown>>)['helpdesk-token']!['backend'] = 'vault';
    (raw['actions'] as Record<string, Record<string, Record<string, unknown>>>)['tickets.update']!['http']!['base_url'] = 'http://plain.example.com';
    const paths = problemsOf(raw).map((p) => p.path);
    for (const want of [
      'limits.requests_per_second',
      'limits.burts',
      'approvals.finance.expires',
      'approvals.finance.approvers[1]',
      'operators.alice.roles[0]',
      'secrets.helpdesk-token.backend',
      'actions.tickets.update.http.base_url',
    ]) {
      assert.ok(paths.includes(want), `missing ${want} in ${paths.join(', ')}`);
    }
  });

  it('approvals: approvers must hold the role approver; an agent owner must name an operator; four eyes must be reachable', () => {
    const c = compileConfig(good(), '/etc/sb/config.yaml');
    assert.deepEqual(c.approvals['finance'], { name: 'finance', approvers: ['alice', 'bob'], required: 1, expiresMs: 900_000 });
    assert.equal(c.agents['support-bot']!.owner, 'alice');

    const noRole = good();
    (noRole['operators'] as Record<string, Record<string, unknown>>)['bob']!['roles'] = ['auditor'];
    assert.match(problemAt(noRole, 'approvals.finance.approvers[1]'), /"bob", who lacks the role "approver"/);

    for (const expires of ['30s', '8d']) {
      const bad = good();
      (bad['approvals'] as Record<string, Record<string, unknown>>)['finance']!['expires'] = expires;
      assert.equal(problemAt(bad, 'approvals.finance.expires'), `expected a duration from 1m to 7d, got "${expires}"`);
    }

    const twice = good();
    (twice['approvals'] as Record<string, Record<string, unknown>>)['finance']!['approvers'] = ['alice', 'bob', 'bob'];
    assert.match(problemAt(twice, 'approvals.finance.approvers[2]'), /lists "bob" twice/);

    const unknownOwner = good();
    (unknownOwner['agents'] as Record<string, Record<string, unknown>>)['support-bot']!['owner'] = 'mallory';
    assert.deepEqual(problemsOf(unknownOwner), [{ path: 'agents.support-bot.owner', message: 'names an unknown operator "mallory"' }]);

    // required 2 of [alice, bob], but alice owns support-bot: only bob could ever approve its requests.
    const unreachable = good();
    (unreachable['approvals'] as Record<string, Record<string, unknown>>)['finance']!['required'] = 2;
    assert.match(problemAt(unreachable, 'approvals.finance.required'), /agent "support-bot" is owned by the approver "alice", who may not decide its requests: only 1 approvers are left/);
    // The same group is fine once a third approver exists.
    (unreachable['operators'] as Record<string, Record<string, unknown>>)['carol'] = { id: 'spiffe://example.org/human/carol', roles: ['approver'] };
    (unreachable['approvals'] as Record<string, Record<string, unknown>>)['finance']!['approvers'] = ['alice', 'bob', 'carol'];
    assert.equal(compileConfig(unreachable, '/etc/sb/config.yaml').approvals['finance']!.required, 2);
  });

  it('approvals: an owner or approver named like an Object.prototype member ("toString", "constructor") is an unknown operator, reported with its path', () => {
    for (const name of ['toString', 'constructor', 'hasOwnProperty', 'valueOf']) {
      const owner = good();
      (owner['agents'] as Record<string, Record<string, unknown>>)['support-bot']!['owner'] = name;
      assert.deepEqual(problemsOf(owner), [{ path: 'agents.support-bot.owner', message: `names an unknown operator "${name}"` }], name);
      const approver = good();
      (approver['approvals'] as Record<string, Record<string, unknown>>)['finance']!['approvers'] = ['bob', name];
      assert.match(problemAt(approver, 'approvals.finance.approvers[1]'), new RegExp(`names an unknown operator "${name}"`), name);
    }
  });

  it('compiles evidence.key_overlap and evidence.witnesses (ca relative to the config file)', () => {
    const plain = compileConfig(good(), '/etc/sb/config.yaml');
    assert.equal(plain.evidence.keyOverlapMs, 24 * 3_600_000);
    assert.deepEqual(plain.evidence.witnesses, []);
    const w = generateCosignerKey('witness.example/w1').verifierKey;
    const raw = good();
    raw['evidence'] = {
      origin: 'example.org/secret-broker',
      signing_key: 'evidence.key',
      key_overlap: '2h',
      witnesses: [{ url: 'https://witness.example/w1', key: w, ca: 'pki/witness-ca.pem' }, { url: 'http://127.0.0.1:7380', key: w }],
    };
    const c = compileConfig(raw, '/etc/sb/config.yaml');
    assert.equal(c.evidence.keyOverlapMs, 2 * 3_600_000);
    assert.deepEqual(c.evidence.witnesses, [
      { url: 'https://witness.example/w1', key: w, ca: '/etc/sb/pki/witness-ca.pem' },
      { url: 'http://127.0.0.1:7380', key: w },
    ]);
    assert.ok(Object.isFrozen(c.evidence.witnesses[0]));
  });

  it('reports every bad witness entry with its path, unknown keys included', () => {
    const w = generateCosignerKey('witness.example/w1').verifierKey;
    const raw = good();
    raw['evidence'] = {
      origin: 'example.org/secret-broker',
      signing_key: 'evidence.key',
      key_overlap: '1 day',
      min_witnesses: 1,
      witnesses: [
        { url: 'https://witness.example/w1?token=x', key: w },
        { url: 'ftp://witness.example', key: w },
        { url: 'https://witness.example', key: generateNoteKey('example.org/secret-broker').verifierKey },
        { url: 'https://witness.example', key: 'not-a-key' },
        { url: 'https://witness.example', key: w, colour: 'blue' },
        { url: 'https://witness.example', key: w },
        'https://witness.example',
      ],
    };
    const problems = problemsOf(raw);
    const at = (p: string): string | undefined => problems.find((x) => x.path === p)?.message;
    assert.match(at('evidence.key_overlap') ?? '', /duration/);
    assert.match(at('evidence.min_witnesses') ?? '', /unknown key/);
    assert.match(at('evidence.witnesses[0].url') ?? '', /without credentials, query or fragment/);
    assert.match(at('evidence.witnesses[1].url') ?? '', /http\(s\) URL/);
    assert.match(at('evidence.witnesses[2].key') ?? '', /witness cosigner verifier key \(type 0x04\)/);
    assert.match(at('evidence.witnesses[3].key') ?? '', /witness cosigner verifier key/);
    assert.match(at('evidence.witnesses[4].colour') ?? '', /unknown key/);
    assert.match(at('evidence.witnesses[5]') ?? '', /same witness/);
    assert.match(at('evidence.witnesses[6]') ?? '', /expected a mapping/);
    raw['evidence'] = { origin: 'example.org/secret-broker', signing_key: 'evidence.key', witnesses: { url: 'https://witness.example' } };
    assert.match(problemsOf(raw).find((x) => x.path === 'evidence.witnesses')!.message, /expected a list of witnesses/);
  });

  it('rejects duplicate identities', () => {
    const raw = good();
    (raw['operators'] as Record<string, unknown>)['eve'] = { id: 'spiffe://example.org/agent/support-bot', roles: ['admin'] };
    assert.ok(problemsOf(raw).some((p) => p.path === 'operators.eve.id' && /already used/.test(p.message)));
  });

  it('reports YAML syntax errors and duplicate keys with their line', () => {
    const t = tempDir();
    try {
      const f = path.join(t.dir, 'c.yaml');
      writeFileSync(f, 'listen: 127.0.0.1:1\nlisten: 127.0.0.1:2\n');
      assert.throws(() => loadConfig(f), (err: unknown) => err instanceof ConfigError && /line 2/.test(err.message));
      assert.throws(() => loadConfig(path.join(t.dir, 'missing.yaml')), /cannot read the config file \(ENOENT\)/);
    } finally {
      t.cleanup();
    }
  });

  const http = { base_url: 'https://helpdesk.example.com/api', methods: ['PUT'], paths: ['/tickets/{id}'], auth: { bearer: 'helpdesk-token' }, context: { ticket: 'path.id' } };

  it('compiles resource templates, default_uses and max_uses, with their defaults', () => {
    const raw = good();
    raw['actions'] = {
      'tickets.update': { http, resource: 'ticket/{ticket}', default_uses: 3, max_uses: 10 },
      'tickets.read': { http, resource: 'helpdesk' },
      'tickets.list': { http },
    };
    const c = compileConfig(raw, '/etc/sb/config.yaml');
    const t = c.actions['tickets.update']!;
    assert.deepEqual(t.resource, { source: 'ticket/{ticket}', parts: [{ text: 'ticket/' }, { field: 'ticket' }] });
    assert.deepEqual([t.defaultUses, t.maxUses], [3, 10]);
    assert.deepEqual(c.actions['tickets.read']!.resource.parts, [{ text: 'helpdesk' }]);
    const l = c.actions['tickets.list']!;
    assert.deepEqual(l.resource.parts, [{ text: 'tickets.list' }], 'the action name by default');
    assert.deepEqual([l.defaultUses, l.maxUses], [1, 100], 'default_uses 1, max_uses 100 (a hard cap)');
  });

  it('refuses a resource template naming an undeclared field, a bad resource, and default_uses over max_uses', () => {
    const raw = good();
    raw['actions'] = {
      'tickets.update': { http, resource: 'ticket/{id}', default_uses: 5, max_uses: 2 },
      'tickets.read': { http, resource: 'ticket {ticket}' },
    };
    const problems = problemsOf(raw);
    const at = (p: string) => problems.filter((x) => x.path === p).map((x) => x.message);
    assert.equal(at('actions.tickets.update.resource').length, 1, JSON.stringify(problems));
    assert.match(at('actions.tickets.update.resource')[0]!, /names \{id\}, which is not a declared context field of this action \(declared: ticket/);
    assert.match(at('actions.tickets.update.default_uses')[0]!, /more than max_uses \(2\)/);
    assert.match(at('actions.tickets.read.resource')[0]!, /letters, digits/);
    assert.equal(problems.length, 3, JSON.stringify(problems));
  });

  describe('actions.<a>.budget', () => {
    type Raw = Record<string, unknown>;
    const withBudget = (budget: unknown, context: Record<string, string> = { amount: 'body.amount', ticket: 'path.id' }): Raw => {
      const raw = good();
      const a = (raw['actions'] as Raw)['tickets.update'] as Raw;
      (a['http'] as Raw)['context'] = context;
      a['budget'] = budget;
      return raw;
    };

    it('compiles field, per and an optional limit', () => {
      const c = compileConfig(withBudget({ field: 'amount', per: '24h', limit: 100000 }), '/etc/sb/config.yaml');
      assert.deepEqual({ ...c.actions['tickets.update']!.budget }, { field: 'amount', perMs: 86_400_000, limit: 100_000 });
      const open = compileConfig(withBudget({ field: 'amount', per: '1h' }), '/etc/sb/config.yaml');
      assert.deepEqual({ ...open.actions['tickets.update']!.budget }, { field: 'amount', perMs: 3_600_000 });
    });

    const bad: Array<[string, unknown, string, RegExp, Record<string, string>?]> = [
      ['a field that is not a declared context field', { field: 'cents', per: '24h' }, 'actions.tickets.update.budget.field', /declared context field of this action \(declared: amount, ticket/],
      ['a field on an action that declares none', { field: 'amount', per: '24h' }, 'actions.tickets.update.budget.field', /declared: none/, {}],
      ['no field', { per: '24h' }, 'actions.tickets.update.budget.field', /required/],
      ['a bad per', { field: 'amount', per: 'daily' }, 'actions.tickets.update.budget.per', /duration/],
      ['no per', { field: 'amount' }, 'actions.tickets.update.budget.per', /required/],
      ['a zero per', { field: 'amount', per: '0s' }, 'actions.tickets.update.budget.per', /must be greater than zero .*got "0s"/],
      ['a fractional limit', { field: 'amount', per: '24h', limit: 100.5 }, 'actions.tickets.update.budget.limit', /integer/],
      ['a string limit', { field: 'amount', per: '24h', limit: '1000' }, 'actions.tickets.update.budget.limit', /integer/],
      ['a negative limit', { field: 'amount', per: '24h', limit: -1 }, 'actions.tickets.update.budget.limit', /integer from 0/],
      ['an unknown key', { field: 'amount', per: '24h', cap: 5 }, 'actions.tickets.update.budget.cap', /unknown key/],
    ];
    for (const [what, budget, at, message, context] of bad) {
      it(`refuses ${what}, naming the path`, () => {
        const problems = problemsOf(withBudget(budget, context));
        const p = problems.find((x) => x.path === at);
        assert.ok(p, `no problem at ${at}: ${JSON.stringify(problems)}`);
        assert.match(p.message, message);
      });
    }
  });

  it('loads the dev config shipped in deploy/dev', () => {
    const c = loadConfig(path.resolve(__dirname, '../../../deploy/dev/config.yaml'));
    assert.equal(c.devMode, true);
    assert.ok(c.actions['billing.refund']);
    assert.deepEqual({ ...c.actions['billing.refund']!.budget }, { field: 'amount', perMs: 86_400_000, limit: 100_000 });
    assert.equal(c.actions['tickets.update']!.resource.source, 'ticket/{ticket}');
    assert.equal(c.actions['billing.refund']!.resource.source, 'stripe');
  });

  it('compiles limits.invokes_in_flight (per agent, overridable) and the server section, with defaults', () => {
    const plain = compileConfig(good(), '/etc/sb/config.yaml');
    assert.equal(plain.limits.invokesInFlight, 16);
    assert.deepEqual({ ...plain.server }, { invokesInFlight: 256, bufferedResponseBytes: 256 * 1024 * 1024, maxConcurrentStreams: 128, maxConnections: 1024 });
    const raw = good();
    raw['limits'] = { invokes_in_flight: 4 };
    (raw['agents'] as Record<string, Record<string, unknown>>)['support-bot']!['limits'] = { invokes_in_flight: 2 };
    raw['server'] = { invokes_in_flight: 64, buffered_response_bytes: '64MiB', max_concurrent_streams: 32, max_connections: 100 };
    const c = compileConfig(raw, '/etc/sb/config.yaml');
    assert.equal(c.limits.invokesInFlight, 4);
    assert.equal(c.agents['support-bot']!.limits.invokesInFlight, 2);
    assert.deepEqual({ ...c.server }, { invokesInFlight: 64, bufferedResponseBytes: 64 * 1024 * 1024, maxConcurrentStreams: 32, maxConnections: 100 });
    for (const [text, bytes] of [['1GiB', 1024 ** 3], ['8MiB', 8 * 1024 ** 2], ['5000000B', 5_000_000], [4194304, 4194304], ['4194304', 4194304]] as const) {
      raw['server'] = { buffered_response_bytes: text };
      assert.equal(compileConfig(raw, '/etc/sb/config.yaml').server.bufferedResponseBytes, bytes, String(text));
    }
  });

  it('reports bad server limits and byte sizes with their path and what was expected', () => {
    const raw = good();
    raw['server'] = { invokes_in_flight: 0, buffered_response_bytes: '256 MB', max_concurrent_streams: 'many', max_connections: 1.5, colour: 1 };
    raw['limits'] = { invokes_in_flight: -1 };
    const problems = problemsOf(raw);
    const at = (p: string): string => problems.find((x) => x.path === p)?.message ?? `(no problem at ${p}: ${JSON.stringify(problems)})`;
    assert.match(at('server.invokes_in_flight'), /1/);
    assert.match(at('server.buffered_response_bytes'), /byte size such as .*"256MiB"/);
    assert.match(at('server.max_concurrent_streams'), /integer/);
    assert.match(at('server.max_connections'), /integer/);
    assert.match(at('server.colour'), /unknown key/);
    assert.match(at('limits.invokes_in_flight'), /1/);
    raw['limits'] = {};
    raw['server'] = { buffered_response_bytes: '1KiB' };
    assert.match(problemsOf(raw).find((x) => x.path === 'server.buffered_response_bytes')!.message, /between 65536 and/);
    // An action whose responses could never fit in the daemon-wide buffer is a mistake.
    raw['server'] = { buffered_response_bytes: '1MiB' };
    ((raw['actions'] as Record<string, Record<string, Record<string, unknown>>>)['tickets.update']!['http']!)['max_response_bytes'] = 2 * 1024 * 1024;
    assert.match(problemsOf(raw).find((x) => x.path === 'actions.tickets.update.http.max_response_bytes')!.message, /more than server\.buffered_response_bytes/);
  });

  it('accepts rotation on a local secret, with rotation.lock_ttl, and reports a bad generator with its path', () => {
    type Raw = Record<string, unknown>;
    const raw = good();
    ((raw['secrets'] as Raw)['helpdesk-token'] as Raw)['rotation'] = { every: '30d', generator: { kind: 'random', length: 24, alphabet: 'abcdef0123456789' } };
    raw['rotation'] = { lock_ttl: '2m' };
    const c = compileConfig(raw, '/etc/secret-broker/config.yaml');
    assert.deepEqual(c.secrets['helpdesk-token']!.rotation, { everyMs: 30 * 86_400_000, generator: { kind: 'random', length: 24, alphabet: 'abcdef0123456789' } });
    assert.equal(c.rotation!.lockTtlMs, 120_000);
    ((raw['secrets'] as Raw)['helpdesk-token'] as Raw)['rotation'] = { every: '30d', generator: { kind: 'shell', length: 8, alphabet: 'aa' } };
    const problems = problemsOf(raw);
    assert.match(problems.find((x) => x.path === 'secrets.helpdesk-token.rotation.generator.kind')!.message, /random/);
    assert.match(problems.find((x) => x.path === 'secrets.helpdesk-token.rotation.generator.length')!.message, /16/);
    assert.match(problems.find((x) => x.path === 'secrets.helpdesk-token.rotation.generator.alphabet')!.message, /distinct/);
  });

  describe('rotation of an aws-secrets-manager secret (four steps; rotation.target names the postgres backend it is the admin URL of)', () => {
    type Raw = Record<string, unknown>;
    const every = { every: '30d', generator: { kind: 'random', length: 40 } };
    const withAws = (secrets: Raw, extra: Raw = {}): Raw => {
      const raw = good();
      raw['backends'] = { ...(raw['backends'] as Raw), aws: { kind: 'aws-secrets-manager', region: 'eu-west-1' }, ...extra };
      raw['secrets'] = { ...(raw['secrets'] as Raw), ...secrets };
      return raw;
    };
    it('accepts it, with and without a target, and compiles the target', () => {
      const c = compileConfig(
        withAws(
          { stripe: { backend: 'aws', id: 'prod/stripe', rotation: every }, 'db-admin': { backend: 'aws', id: 'prod/db', rotation: { ...every, target: { postgres: 'appdb' } } } },
          { appdb: { kind: 'postgres', url_secret: { backend: 'aws', name: 'prod/db' } } },
        ),
        '/etc/sb/config.yaml',
      );
      assert.equal(c.secrets['stripe']!.rotation!.target, undefined);
      assert.deepEqual(c.secrets['db-admin']!.rotation!.target, { postgres: 'appdb' });
    });
    const cases: Array<[string, Raw, Raw, string, RegExp]> = [
      ['field (the whole SecretString is written)', { stripe: { backend: 'aws', id: 'prod/stripe', field: 'api_key', rotation: every } }, {}, 'secrets.stripe.rotation', /written whole/],
      ['a target that is not a postgres backend', { stripe: { backend: 'aws', id: 'prod/stripe', rotation: { ...every, target: { postgres: 'aws' } } } }, {}, 'secrets.stripe.rotation.target.postgres', /expected a postgres backend, got "aws"/],
      [
        'a target whose admin URL is another secret',
        { stripe: { backend: 'aws', id: 'prod/stripe', rotation: { ...every, target: { postgres: 'appdb' } } } },
        { appdb: { kind: 'postgres', url_secret: { backend: 'aws', name: 'prod/db' } } },
        'secrets.stripe.rotation.target.postgres',
        /takes its admin URL from another secret/,
      ],
      [
        "a postgres backend's admin URL rotated without its target (the password would not change on the database)",
        { 'db-admin': { backend: 'aws', id: 'prod/db', rotation: every } },
        { appdb: { kind: 'postgres', url_secret: { backend: 'aws', name: 'prod/db' } } },
        'secrets.db-admin.rotation',
        /add target: \{ postgres: appdb \}/,
      ],
      ['a target on a local secret', { 'local-one': { backend: 'local', rotation: { ...every, target: { postgres: 'appdb' } } } }, {}, 'secrets.local-one.rotation.target', /only an aws-secrets-manager secret takes a target/],
      ['an unknown key under target', { stripe: { backend: 'aws', id: 'prod/stripe', rotation: { ...every, target: { mysql: 'x' } } } }, {}, 'secrets.stripe.rotation.target.mysql', /./],
    ];
    for (const [what, secrets, backends, at, msg] of cases) {
      it(`refuses ${what}, naming the path`, () => {
        const problems = problemsOf(withAws(secrets, backends));
        const p = problems.find((x) => x.path === at);
        assert.ok(p, `no problem at ${at}: ${JSON.stringify(problems)}`);
        assert.match(p.message, msg);
      });
    }
  });

  describe('refuses keys for features that are not built yet, naming the path', () => {
    type Raw = Record<string, unknown>;
    const cases: Array<[string, (raw: Raw) => void, string]> = [
      ['the postgres state store', (raw) => { raw['state'] = { postgres: { url_env: 'BROKER_DATABASE_URL' } }; }, 'state.postgres'],
    ];
    for (const [what, change, at] of cases) {
      it(what, () => {
        const raw = good();
        change(raw);
        const problems = problemsOf(raw);
        const p = problems.find((x) => x.path === at);
        assert.ok(p, `no problem at ${at}: ${JSON.stringify(problems)}`);
        assert.match(p.message, /not built yet/);
        // The refusal is the only problem: the rest of the key still parses.
        assert.deepEqual(problems.filter((x) => /not built yet/.test(x.message) === false), [], JSON.stringify(problems));
      });
    }
  });
});
