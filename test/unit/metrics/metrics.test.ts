import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { compileConfig } from '../../../src/config/compile';
import { PromMetrics, NO_METRICS, scrapeAllowed } from '../../../src/metrics';
import { problemAt } from '../../helpers/config-problems';
import { makeTestPki, tempDir } from '../../helpers/broker-harness';

const good = (): Record<string, unknown> => ({
  listen: '127.0.0.1:7443',
  tls: { ca: 'ca.pem', cert: 'server.pem', key: 'server.key' },
  state: { sqlite: 'broker.db' },
  evidence: { origin: 'example.org/secret-broker', signing_key: 'evidence.key' },
  agents: { 'support-bot': { id: 'spiffe://example.org/agent/support-bot', groups: ['support'] } },
  operators: { carol: { id: 'spiffe://example.org/human/carol', roles: ['auditor'] } },
  policies: 'policies/',
});

const sources = {
  activeLeases: async () => [
    { agent: 'a1', count: 2 },
    { agent: 'a2', count: 3 },
  ],
  pendingApprovals: async () => 0,
  breakers: () => [],
  rotations: async () => [{ secret: 'stripe-key', lastRotatedAt: 1_700_000_000_000, rotated: 4, failed: 1 }],
  now: () => 0,
};

describe('metrics', () => {
  describe('config', () => {
    it('metrics_listen is optional host:port; metrics.agent_label_limit defaults to 100', () => {
      const c = compileConfig(good(), '/etc/sb/config.yaml');
      assert.equal(c.metricsListen, undefined);
      assert.equal(c.metrics.agentLabelLimit, 100);
      const d = compileConfig({ ...good(), metrics_listen: '0.0.0.0:9464', metrics: { agent_label_limit: 5 } }, '/etc/sb/config.yaml');
      assert.deepEqual(d.metricsListen, { host: '0.0.0.0', port: 9464 });
      assert.equal(d.metrics.agentLabelLimit, 5);
    });

    it('bad values and unknown keys name their field', () => {
      assert.match(problemAt({ ...good(), metrics_listen: 'localhost' }, 'metrics_listen'), /host:port/);
      assert.match(problemAt({ ...good(), metrics: { agent_label_limit: -1 } }, 'metrics.agent_label_limit'), /integer from 0/);
      assert.match(problemAt({ ...good(), metrics: { agent_label_limit: 'many' } }, 'metrics.agent_label_limit'), /integer/);
      problemAt({ ...good(), metrics: { agent_labels: 10 } }, 'metrics.agent_labels');
    });
  });

  describe('labels', () => {
    it('names agents while they are at most agent_label_limit, and never once they are more', async () => {
      const few = new PromMetrics({ version: 't', agents: ['a1', 'a2'], agentLabelLimit: 2 });
      few.observe(sources);
      few.decision('RequestLease', 'allow', 'a1', 0.001);
      let body = (await few.exposition()).body;
      assert.match(body, /^secretbroker_decisions_total\{rpc="RequestLease",effect="allow",agent="a1"\} 1$/m);
      assert.match(body, /^secretbroker_active_leases\{agent="a2"\} 3$/m);

      const many = new PromMetrics({ version: 't', agents: ['a1', 'a2', 'a3'], agentLabelLimit: 2 });
      many.observe(sources);
      many.decision('RequestLease', 'allow', 'a1', 0.001);
      many.decision('Invoke', 'approval', 'a2', 0.001);
      body = (await many.exposition()).body;
      assert.doesNotMatch(body, /a1|a2|a3/, 'no agent name anywhere');
      assert.match(body, /^secretbroker_decisions_total\{rpc="Invoke",effect="approval",agent=""\} 1$/m);
      assert.match(body, /^secretbroker_active_leases 5$/m, 'one series: the total');
    });

    it('each app has its own registry: two apps do not share counts, and prom-client\u2019s global registry stays empty', async () => {
      const a = new PromMetrics({ version: 't', agents: [], agentLabelLimit: 100 });
      const b = new PromMetrics({ version: 't', agents: [], agentLabelLimit: 100 });
      a.witnessFailure('https://w1.example');
      assert.match((await a.exposition()).body, /^secretbroker_witness_failures_total\{witness="https:\/\/w1.example"\} 1$/m);
      assert.doesNotMatch((await b.exposition()).body, /^secretbroker_witness_failures_total\{/m);
      const { register } = await import('prom-client');
      assert.equal((await register.metrics()).trim(), '');
    });

    it('reads rotation outcomes and last success from the rotations table at scrape time', async () => {
      const m = new PromMetrics({ version: 't', agents: [], agentLabelLimit: 100 });
      m.observe(sources);
      const body = (await m.exposition()).body;
      assert.match(body, /^secretbroker_rotations_total\{secret="stripe-key",outcome="rotated"\} 4$/m);
      assert.match(body, /^secretbroker_rotations_total\{secret="stripe-key",outcome="failed"\} 1$/m);
      assert.match(body, /^secretbroker_rotation_last_success_timestamp_seconds\{secret="stripe-key"\} 1700000000$/m);
    });

    it('derives lease events, approval decision time and trust changes from committed evidence entries', async () => {
      const m = new PromMetrics({ version: 't', agents: [], agentLabelLimit: 100 });
      const entry = (o: Record<string, unknown>) => ({ type: String(o['type']), bytes: Buffer.from(JSON.stringify(o)) });
      m.evidenceCommitted(
        [
          entry({ type: 'lease.revoked', reason: 'trust', lease: { id: 'lease_x' } }),
          entry({ type: 'lease.revoked', reason: 'operator' }),
          entry({ type: 'approval.decided', approval: { state: 'approved' }, vote: { decision_time_ms: 90_000 } }),
          entry({ type: 'trust.changed', trust: { old: { score: 700 }, new: { score: 100 } } }),
        ],
        0.002,
      );
      const body = (await m.exposition()).body;
      assert.match(body, /^secretbroker_lease_events_total\{event="revoked"\} 2$/m);
      assert.match(body, /^secretbroker_trust_revocations_total 1$/m);
      assert.match(body, /^secretbroker_approval_decision_seconds_bucket\{le="60"\} 0$/m);
      assert.match(body, /^secretbroker_approval_decision_seconds_bucket\{le="120"\} 1$/m);
      assert.match(body, /^secretbroker_trust_changes_total\{direction="down"\} 1$/m);
      assert.match(body, /^secretbroker_evidence_append_duration_seconds_count 1$/m);
      assert.doesNotMatch(body, /lease_x/);
    });

    it('the no-op default is frozen and does nothing', () => {
      assert.ok(Object.isFrozen(NO_METRICS));
      NO_METRICS.decision('Invoke', 'allow', 'a', 1);
    });
  });

  describe('who may scrape', () => {
    it('only an operator with role auditor', async () => {
      const tmp = tempDir('sb-metrics-scrape-');
      try {
        const pki = await makeTestPki(tmp.dir, ['support-bot'], ['carol', 'bob']);
        const der = (pem: string): Buffer => Buffer.from(readFileSync(pem, 'utf8').replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
        const ops = pki.layout.operators;
        const config = { operators: { carol: { name: 'carol', id: ops['carol']!.id, roles: ['auditor'] as const }, bob: { name: 'bob', id: ops['bob']!.id, roles: ['approver'] as const } } };
        assert.deepEqual(scrapeAllowed(config, der(ops['carol']!.cert)), { ok: true, operator: 'carol' });
        assert.deepEqual(scrapeAllowed(config, der(ops['bob']!.cert)), { ok: false, why: 'operator bob lacks the role "auditor"' });
        assert.deepEqual(scrapeAllowed(config, der(pki.layout.agents['support-bot']!.cert)), { ok: false, why: 'the client certificate does not name a configured operator' });
        assert.equal(scrapeAllowed(config, undefined).ok, false);
        assert.equal(scrapeAllowed(config, Buffer.from('not a certificate')).ok, false);
      } finally {
        tmp.cleanup();
      }
    });
  });
});
