import { strict as assert } from 'node:assert';
import { compileConfig } from '../../../src/config/compile';
import { problemsOf } from '../../helpers/config-problems';

const good = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  listen: '127.0.0.1:7443',
  tls: { ca: 'ca.pem', cert: 'server.pem', key: 'server.key' },
  state: { sqlite: 'broker.db' },
  evidence: { origin: 'example.org/secret-broker', signing_key: 'evidence.key' },
  agents: { 'support-bot': { id: 'spiffe://example.org/agent/support-bot', groups: ['support'] } },
  policies: 'policies/',
  ...over,
});

describe('config: trust', () => {
  it('defaults: initial 600, thresholds 800/500/200, fresh within 24h, no decay, the three old kinds and the broker\'s own', () => {
    const c = compileConfig(good(), '/etc/sb/config.yaml');
    assert.equal(c.trust.initial, 600);
    assert.deepEqual(c.trust.thresholds, { trusted: 800, standard: 500, restricted: 200 });
    assert.equal(c.trust.freshWithinMs, 24 * 3_600_000);
    assert.equal(c.trust.decay, undefined);
    assert.deepEqual(Object.keys(c.trust.signals).sort(), ['anomaly', 'broker.credential_misuse', 'broker.denial_burst', 'broker.outside_template', 'broker.secret_echo', 'good_behavior', 'policy_violation']);
    assert.deepEqual(c.trust.denialBurst, { count: 10, withinMs: 60_000 });
    assert.ok(Object.isFrozen(c.trust.signals));
  });

  it('compiles every key, with per-agent overrides merged over the trust: thresholds', () => {
    const c = compileConfig(
      good({
        trust: {
          initial: 550,
          thresholds: { trusted: 850 },
          decay: { toward: 500, per: '6h', points: 25 },
          fresh_within: '1h',
          signals: { 'eval.failed': { weight: -150 }, 'eval.passed': { weight: 50 }, anomaly: { weight: -300 }, 'broker.denial_burst': { weight: -80, count: 5, within: '30s' } },
        },
        agents: { 'support-bot': { id: 'spiffe://example.org/agent/support-bot', groups: ['support'], trust: { initial: 400, thresholds: { restricted: 300 } } } },
      }),
      '/etc/sb/config.yaml',
    );
    assert.equal(c.trust.initial, 550);
    assert.deepEqual(c.trust.thresholds, { trusted: 850, standard: 500, restricted: 200 });
    assert.deepEqual(c.trust.decay, { toward: 500, perMs: 6 * 3_600_000, points: 25 });
    assert.equal(c.trust.freshWithinMs, 3_600_000);
    assert.deepEqual(c.trust.signals['eval.failed'], { weight: -150 });
    assert.deepEqual(c.trust.signals['anomaly'], { weight: -300 });
    assert.deepEqual(c.trust.signals['broker.denial_burst'], { weight: -80 });
    assert.deepEqual(c.trust.denialBurst, { count: 5, withinMs: 30_000 });
    assert.deepEqual(c.agents['support-bot']!.trust, { initial: 400, thresholds: { trusted: 850, standard: 500, restricted: 300 } });
  });

  it('reports every mistake with its path: unknown keys, ranges, zero or wrong-sign weights, bad kind names, unordered thresholds', () => {
    const problems = problemsOf(
      good({
        trust: {
          initial: 1001,
          thresholds: { trusted: 400, standard: 500 },
          decay: { per: 'often', points: 0, speed: 1 },
          fresh_within: 'soon',
          signals: { 'Eval Failed': { weight: -1 }, 'eval.zero': { weight: 0 }, 'eval.big': { weight: 2000 }, 'broker.denial_burst': { weight: 10 }, 'broker.other': { weight: -1 }, 'eval.x': { weight: -1, extra: true } },
          colour: 'red',
        },
        agents: { 'support-bot': { id: 'spiffe://example.org/agent/support-bot', groups: ['support'], trust: { initial: -1, bonus: 1 } } },
      }),
    );
    const at = (p: string): string => {
      const found = problems.find((x) => x.path === p);
      assert.ok(found, `no problem at ${p}: ${JSON.stringify(problems)}`);
      return found.message;
    };
    assert.match(at('trust.initial'), /0 to 1000/);
    assert.match(at('trust.thresholds'), /trusted \(400\) must be above standard \(500\)/);
    assert.match(at('trust.decay.per'), /duration/);
    assert.match(at('trust.decay.points'), /1 to 1000/);
    assert.match(at('trust.decay.speed'), /unknown key/);
    assert.match(at('trust.fresh_within'), /duration/);
    assert.match(at('trust.signals.Eval Failed'), /dot-separated lower-case words/);
    assert.match(at('trust.signals.eval.zero.weight'), /must not be 0/);
    assert.match(at('trust.signals.eval.big.weight'), /-1000 to 1000/);
    assert.match(at('trust.signals.broker.denial_burst.weight'), /must be negative/);
    assert.match(at('trust.signals.broker.other'), /reserved/);
    assert.match(at('trust.signals.eval.x.extra'), /unknown key/);
    assert.match(at('trust.colour'), /unknown key/);
    assert.match(at('agents.support-bot.trust.initial'), /0 to 1000/);
    assert.match(at('agents.support-bot.trust.bonus'), /unknown key/);
  });

  it('a broker kind with weight 0 is off (left out); any other kind with 0 is a problem', () => {
    const c = compileConfig(good({ trust: { signals: { 'broker.secret_echo': { weight: 0 } } } }), '/etc/sb/config.yaml');
    assert.equal('broker.secret_echo' in c.trust.signals, false);
    assert.equal('broker.denial_burst' in c.trust.signals, true);
    const problems = problemsOf(good({ trust: { signals: { 'eval.zero': { weight: 0 } } } }));
    assert.match(problems.find((p) => p.path === 'trust.signals.eval.zero.weight')!.message, /must not be 0/);
  });

  it('trust_fresh is reserved: no action may declare it as a context field', () => {
    const problems = problemsOf(
      good({
        backends: { local: { kind: 'local', path: 's', key_file: 'k' } },
        secrets: { t: { backend: 'local', name: 't' } },
        actions: { 'a.b': { http: { base_url: 'https://x.example', methods: ['GET'], paths: ['/{id}'], auth: { bearer: 't' }, context: { trust_fresh: 'path.id' } } } },
      }),
    );
    assert.ok(problems.some((p) => p.path.endsWith('trust_fresh') && /reserved/.test(p.message)), JSON.stringify(problems));
  });
});
