import { strict as assert } from 'node:assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import * as https from 'node:https';
import * as net from 'node:net';
import * as path from 'node:path';
import { call } from '../../src/client/grpc-client';
import type { LeaseResponse__Output } from '../../src/gen/secretbroker/v1/LeaseResponse';
import type { InvokeResponse__Output } from '../../src/gen/secretbroker/v1/InvokeResponse';
import { ManualClock } from '../../src/lib/clock';
import { generateCosignerKey } from '../../src/evidence/cosignature';
import { baseRawConfig, makeTestPki, startBroker, tempDir, writeClientCert, type RunningBroker, type TestPki } from '../helpers/broker-harness';
import { vaultDynamicRawConfig } from '../helpers/dynamic-action';
import { FaultCredentialBackend, faultSource } from '../helpers/fault-credential-backend';
import { MAX_METRICS_CONNECTIONS } from '../../src/metrics/metrics-server';
import { freeLoopbackPort } from '../helpers/ephemeral-postgres';
import { startInvokeBroker } from '../helpers/invoke-broker';
import { expectDenied } from '../helpers/expect-denial';

const PROMETHEUS = '/usr/bin/prometheus';
/** The decisions counter's effect label for a denial (the denials themselves are checked with expectDenied). */
const DENIAL = 'deny';
const PROMTOOL = '/usr/bin/promtool';

/** GET https://127.0.0.1:port/metrics with the given client certificate (or none). */
function scrape(port: number, caFile: string, client?: { cert: string; key: string }, urlPath = '/metrics'): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        servername: 'localhost',
        port,
        path: urlPath,
        method: 'GET',
        ca: readFileSync(caFile),
        ...(client ? { cert: readFileSync(client.cert), key: readFileSync(client.key) } : {}),
        agent: false,
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

/** The value of one sample line of the exposition (0 when absent). */
const sample = (body: string, line: string): number => {
  const esc = line.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const m = new RegExp(`^${esc} ([0-9.e+-]+)$`, 'm').exec(body);
  return m ? Number(m[1]) : 0;
};

async function getJson(url: string): Promise<{ status: string; data: unknown }> {
  const res = await fetch(url);
  return (await res.json()) as { status: string; data: unknown };
}

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

async function query(base: string, q: string): Promise<Sample[]> {
  const r = await getJson(`${base}/api/v1/query?query=${encodeURIComponent(q)}`);
  assert.equal(r.status, 'success', JSON.stringify(r));
  return (r.data as { result: Sample[] }).result;
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

describe('Prometheus metrics over mTLS (real daemon, real Prometheus, promtool)', function () {
  this.timeout(120_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let broker: RunningBroker;
  let close: () => Promise<void>;
  let port: number;

  const lease = (agent: string, ticket: string) =>
    call<unknown, LeaseResponse__Output>(broker.clientFor('agents', agent).agent, 'RequestLease', {
      action: 'tickets.update',
      resource: `ticket/${ticket}`,
      params: { fields: { ticket: { stringValue: ticket } } },
      ttlSeconds: 300,
      maxUses: 1,
    });

  before(async () => {
    tmp = tempDir('sb-metrics-');
    pki = await makeTestPki(path.join(tmp.dir, 'pki'));
    const dir = path.join(tmp.dir, 'state');
    mkdirSync(dir, { recursive: true });
    const started = await startInvokeBroker({
      pki,
      dir,
      policies: { 'misc.cedar': '@id("misc-support")\n@reason("Support may call the echo endpoint.")\npermit (principal in Group::"support", action == Action::"helpdesk.misc", resource);\n' },
      actions: (http) => ({
        'helpdesk.misc': { http: http({ methods: ['GET'], paths: ['/echo'] }) },
        'billing.refund': { http: http({ methods: ['POST'], paths: ['/v1/refunds'], context: { amount: 'body.amount' } }), resource: 'stripe', max_uses: 1 },
      }),
      raw: (raw) => {
        raw['metrics_listen'] = '127.0.0.1:0';
        (raw['secrets'] as Record<string, unknown>)['stripe-key'] = { backend: 'local', name: 'helpdesk-token' };
      },
    });
    broker = started.broker;
    close = started.close;
    assert.ok(broker.app.metricsPort, 'metrics_listen takes effect: the daemon serves metrics');
    port = broker.app.metricsPort;
  });
  after(async () => {
    await close?.();
    tmp?.cleanup();
  });

  const auditor = (): { cert: string; key: string } => pki.layout.operators['carol']!; // roles: [auditor]

  it('serves the exposition to an auditor: secretbroker_ names, build info, process defaults', async () => {
    const r = await scrape(port, pki.layout.caCert, auditor());
    assert.equal(r.status, 200, r.body);
    assert.match(r.type, /^text\/plain; version=0\.0\.4/);
    assert.match(r.body, /^secretbroker_build_info\{version="0\.1\.0",node_version="v[0-9.]+"\} 1$/m);
    assert.match(r.body, /^# TYPE secretbroker_process_cpu_seconds_total counter$/m, 'prom-client process defaults');
    assert.match(r.body, /^# TYPE secretbroker_decisions_total counter$/m);
    assert.match(r.body, /^# TYPE secretbroker_evidence_append_duration_seconds histogram$/m);
    assert.match(r.body, /^secretbroker_evidence_tree_size [1-9][0-9]*$/m, 'policy.loaded is in the log at start');
    assert.match(r.body, /^secretbroker_backend_breaker_state\{backend="local",state="closed"\} 1$/m);
    // Every metric of ours is secretbroker_-prefixed.
    for (const m of r.body.matchAll(/^# TYPE (\S+) /gm)) assert.match(m[1]!, /^secretbroker_/);
  });

  it('refuses a scrape without a client certificate (TLS), with a foreign CA, or from an agent or a non-auditor (403)', async () => {
    await assert.rejects(scrape(port, pki.layout.caCert), (err: NodeJS.ErrnoException) => /certificate|handshake|socket hang up|ECONNRESET/i.test(`${err.code} ${err.message}`));
    const foreign = await writeClientCert(pki, 'foreign-carol', { uris: ['spiffe://example.org/human/carol'], foreign: true });
    await assert.rejects(scrape(port, pki.layout.caCert, foreign), (err: NodeJS.ErrnoException) => /certificate|handshake|socket hang up|ECONNRESET|unknown ca/i.test(`${err.code} ${err.message}`));
    const agent = await scrape(port, pki.layout.caCert, pki.layout.agents['support-bot']);
    assert.equal(agent.status, 403);
    assert.doesNotMatch(agent.body, /secretbroker_/);
    const approver = await scrape(port, pki.layout.caCert, pki.layout.operators['bob']); // roles: [approver]
    assert.equal(approver.status, 403);
    const unknown = await writeClientCert(pki, 'stranger', { uris: ['spiffe://example.org/human/mallory'] });
    assert.equal((await scrape(port, pki.layout.caCert, unknown)).status, 403);
    const twoSans = await writeClientCert(pki, 'two-sans', { uris: ['spiffe://example.org/human/carol', 'spiffe://example.org/agent/support-bot'] });
    assert.equal((await scrape(port, pki.layout.caCert, twoSans)).status, 403, 'an ambiguous certificate is nobody');
    assert.equal((await scrape(port, pki.layout.caCert, auditor(), '/other')).status, 404);
  });

  it('closes a connection that never finishes its TLS handshake (no certificate needed to hold one) within the daemon\'s handshake timeout, not Node\'s 120 s', async function () {
    this.timeout(30_000);
    // Its own daemon with a short handshake timeout: the setting reaches the metrics port through buildApp.
    const t = tempDir('sb-metrics-hs-');
    const quick = await startBroker({ pki, dir: t.dir, raw: { ...baseRawConfig(pki, t.dir), metrics_listen: '127.0.0.1:0' }, connectionTimeouts: { tlsHandshakeMs: 500 } });
    try {
      const started = Date.now();
      const closedAfter = await new Promise<number>((resolve, reject) => {
        const s = net.connect(quick.app.metricsPort!, '127.0.0.1');
        s.on('error', () => undefined);
        s.on('close', () => resolve(Date.now() - started));
        setTimeout(() => {
          s.destroy();
          reject(new Error('a silent connection was still open after 20 s'));
        }, 20_000).unref();
      });
      assert.ok(closedAfter >= 400 && closedAfter < 5000, `closed after ${closedAfter} ms (timeout 500 ms)`);
    } finally {
      await quick.close();
      t.cleanup();
    }
  });

  it('an auditor still scrapes while a peer without a certificate holds more than MAX_METRICS_CONNECTIONS silent sockets, and the sockets it holds stay bounded', async () => {
    // Before the fix the port refused every connection past MAX_METRICS_CONNECTIONS, counted from TCP
    // accept: anyone who could reach it held that many silent sockets and locked Prometheus out.
    const attacker: net.Socket[] = [];
    try {
      for (let i = 0; i < MAX_METRICS_CONNECTIONS + 16; i++) {
        const s = net.connect(port, '127.0.0.1');
        s.on('error', () => undefined);
        attacker.push(s);
        await new Promise((resolve) => s.once('connect', resolve));
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
      const r = await scrape(port, pki.layout.caCert, auditor());
      assert.equal(r.status, 200, 'the auditor\'s scrape succeeds while the attacker holds its sockets');
      assert.match(r.body, /^secretbroker_build_info/m);
      await new Promise((resolve) => setTimeout(resolve, 200));
      const open = attacker.filter((s) => !s.destroyed && !s.readableEnded).length;
      assert.ok(open <= MAX_METRICS_CONNECTIONS, `the attacker holds ${open} sockets, at most MAX_METRICS_CONNECTIONS (${MAX_METRICS_CONNECTIONS})`);
      assert.ok(open >= MAX_METRICS_CONNECTIONS - 2, `the attacker's oldest sockets made room, not more (${open} open)`);
    } finally {
      for (const s of attacker) s.destroy();
    }
  });

  it('a real Prometheus scrapes it with tls_config; its query API shows build info and the scripted decisions; promtool accepts the exposition', async function () {
    if (!existsSync(PROMETHEUS) || !existsSync(PROMTOOL)) this.skip();
    // The scripted run: three grants for support-bot, two denials for analyst-bot (not in group support).
    for (const t of ['T-1', 'T-2', 'T-3']) assert.equal((await lease('support-bot', t)).status, 'GRANTED');
    for (const t of ['T-4', 'T-5']) expectDenied(await lease('analyst-bot', t));

    // promtool lints the exposition exactly as served.
    const exposition = await scrape(port, pki.layout.caCert, auditor());
    assert.equal(exposition.status, 200);
    const expoFile = path.join(tmp.dir, 'exposition.txt');
    writeFileSync(expoFile, exposition.body);
    const lint = spawnSync(PROMTOOL, ['check', 'metrics'], { input: exposition.body, encoding: 'utf8' });
    assert.equal(lint.status, 0, `promtool check metrics: ${lint.stdout}${lint.stderr}`);
    // The scripted run, as counted: three allows for support-bot, two denials for analyst-bot.
    const scripted = [
      { effect: 'allow', agent: 'support-bot', n: 3 },
      { effect: DENIAL, agent: 'analyst-bot', n: 2 },
    ];
    for (const { effect, agent, n } of scripted) assert.equal(sample(exposition.body, `secretbroker_decisions_total{rpc="RequestLease",effect="${effect}",agent="${agent}"}`), n, `${effect} ${agent}`);
    assert.match(exposition.body, /^secretbroker_active_leases\{agent="support-bot"\} 3$/m);
    assert.match(exposition.body, /^secretbroker_lease_events_total\{event="issued"\} 3$/m);
    assert.match(exposition.body, /^secretbroker_rpc_duration_seconds_count\{method="RequestLease",code="ok"\} 5$/m);
    assert.doesNotMatch(exposition.body, /lease_[0-9a-f]{12}|ticket\/T-/, 'no lease ids or resources in labels');

    const promDir = path.join(tmp.dir, 'prometheus');
    mkdirSync(path.join(promDir, 'data'), { recursive: true });
    const webPort = await freeLoopbackPort();
    const agentCert = pki.layout.agents['support-bot']!;
    const job = (name: string, client: { cert: string; key: string }): string => `
  - job_name: ${name}
    scheme: https
    tls_config:
      ca_file: ${pki.layout.caCert}
      cert_file: ${client.cert}
      key_file: ${client.key}
    static_configs:
      - targets: ['127.0.0.1:${port}']`;
    const yml = path.join(promDir, 'prometheus.yml');
    writeFileSync(yml, `global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:${job('secret-broker', auditor())}${job('as-agent', agentCert)}\n`);
    const check = spawnSync(PROMTOOL, ['check', 'config', yml], { encoding: 'utf8' });
    assert.equal(check.status, 0, check.stdout + check.stderr);
    let prom: ChildProcess | undefined;
    let promLog = '';
    try {
      prom = spawn(PROMETHEUS, [`--config.file=${yml}`, `--storage.tsdb.path=${path.join(promDir, 'data')}`, `--web.listen-address=127.0.0.1:${webPort}`, '--log.level=warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
      prom.stdout!.on('data', (c: Buffer) => (promLog += c.toString()));
      prom.stderr!.on('data', (c: Buffer) => (promLog += c.toString()));
      const base = `http://127.0.0.1:${webPort}`;
      const info = await until('secretbroker_build_info in Prometheus', async () => {
        const r = await query(base, 'secretbroker_build_info{job="secret-broker"}');
        return r.length > 0 ? r : undefined;
      });
      assert.equal(info[0]!.metric['version'], '0.1.0');
      assert.equal(info[0]!.value[1], '1');
      const allowed = await query(base, 'sum(secretbroker_decisions_total{job="secret-broker",rpc="RequestLease",effect="allow"})');
      assert.equal(allowed[0]?.value[1], '3');
      const denied = await query(base, `sum(secretbroker_decisions_total{job="secret-broker",rpc="RequestLease",effect="${DENIAL}"})`);
      assert.equal(denied[0]?.value[1], '2');
      // The scrape with an agent's certificate is refused: Prometheus records the target down with the 403.
      const targets = await until('the as-agent target scraped', async () => {
        const r = await getJson(`${base}/api/v1/targets`);
        const active = (r.data as { activeTargets: Array<{ labels: Record<string, string>; health: string; lastError: string }> }).activeTargets;
        const agentTarget = active.find((t) => t.labels['job'] === 'as-agent');
        return agentTarget && agentTarget.health !== 'unknown' ? active : undefined;
      });
      const byJob = Object.fromEntries(targets.map((t) => [t.labels['job'], t]));
      assert.equal(byJob['secret-broker']!.health, 'up', byJob['secret-broker']!.lastError);
      assert.equal(byJob['as-agent']!.health, 'down');
      assert.match(byJob['as-agent']!.lastError, /403/);
      assert.deepEqual(await query(base, 'up{job="as-agent"}').then((r) => r.map((s) => s.value[1])), ['0']);
    } catch (err) {
      throw new Error(`${(err as Error).message}\nprometheus log:\n${promLog.slice(-3000)}`, { cause: err });
    } finally {
      if (prom && prom.exitCode === null) {
        const exited = new Promise((r) => prom!.once('exit', r));
        prom.kill('SIGTERM');
        await exited;
      }
    }
  });

  const exposition = async (): Promise<string> => {
    const r = await scrape(port, pki.layout.caCert, auditor());
    assert.equal(r.status, 200);
    return r.body;
  };

  it('counts brokered calls (upstream time, scrubbed echoes by encoding, backend reads), approvals and trust-driven revocations', async () => {
    const agent = broker.clientFor('agents', 'support-bot').agent;
    const before = await exposition();
    const res = await call<unknown, InvokeResponse__Output>(agent, 'Invoke', { action: 'helpdesk.misc', method: 'GET', path: '/echo', query: [{ name: 'encoding', value: 'gzip' }] });
    assert.match(res.body.toString('latin1'), /\[REDACTED\]/);
    let body = await exposition();
    assert.equal(sample(body, 'secretbroker_upstream_duration_seconds_count{action="helpdesk.misc",outcome="ok"}'), 1);
    assert.ok(sample(body, 'secretbroker_scrubbed_echoes_total{encoding="gzip"}') > 0, 'echoes in the gzipped body');
    assert.ok(sample(body, 'secretbroker_scrubbed_echoes_total{encoding="header"}') > 0, 'echoes in headers');
    assert.equal(sample(body, 'secretbroker_scrubbed_echoes_total{encoding="identity"}'), 0);
    assert.ok(sample(body, 'secretbroker_backend_duration_seconds_count{backend="local"}') > sample(before, 'secretbroker_backend_duration_seconds_count{backend="local"}'), 'the secret was read from the local backend');
    assert.equal(sample(body, 'secretbroker_decisions_total{rpc="Invoke",effect="allow",agent="support-bot"}'), 1);
    assert.ok(sample(body, 'secretbroker_evidence_entries_total{type="invoke.result"}') >= 1);

    // An approval: pending, then decided by bob.
    const pending = await call<unknown, LeaseResponse__Output>(agent, 'RequestLease', { action: 'billing.refund', purpose: 'ticket T-9', params: { fields: { amount: { numberValue: 20_000 } } } });
    assert.equal(pending.status, 'PENDING_APPROVAL');
    body = await exposition();
    assert.equal(sample(body, 'secretbroker_pending_approvals'), 1);
    assert.equal(sample(body, 'secretbroker_decisions_total{rpc="RequestLease",effect="approval",agent="support-bot"}'), 1);
    await call(broker.clientFor('operators', 'bob').operator, 'DecideApproval', { approvalId: pending.approvalId, approve: true, reason: 'checked' });
    body = await exposition();
    assert.equal(sample(body, 'secretbroker_pending_approvals'), 0);
    assert.equal(sample(body, 'secretbroker_approval_decisions_total{state="approved"}'), 1);
    assert.equal(sample(body, 'secretbroker_approval_decision_seconds_count'), 1);

    // A trust drop to quarantine revokes support-bot's live leases: counted as trust-driven revocations.
    const active = sample(body, 'secretbroker_active_leases{agent="support-bot"}');
    assert.ok(active >= 3, `support-bot holds its three ticket leases (${active})`);
    const t = await call<unknown, { leasesRevoked: number }>(broker.clientFor('operators', 'alice').operator, 'SetTrust', { agent: 'support-bot', score: 100, reason: 'INC-1: metrics test' });
    assert.equal(t.leasesRevoked, active);
    body = await exposition();
    assert.equal(sample(body, 'secretbroker_trust_changes_total{direction="down"}'), 1);
    assert.equal(sample(body, 'secretbroker_trust_revocations_total'), active);
    assert.equal(sample(body, 'secretbroker_active_leases{agent="support-bot"}'), 0);
    assert.ok(sample(body, 'secretbroker_lease_events_total{event="revoked"}') >= active);
    const lint = spawnSync(PROMTOOL, ['check', 'metrics'], { input: body, encoding: 'utf8' });
    assert.equal(lint.status, 0, `promtool check metrics: ${lint.stdout}${lint.stderr}`);
  });
});

describe('metrics of dynamic credentials (real daemon, fault-injecting credential backend)', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof tempDir>;
  let broker: RunningBroker | undefined;

  after(async () => {
    await broker?.close();
    tmp?.cleanup();
  });

  it('counts credentials minted for leases and failed revocations, by action and backend', async () => {
    tmp = tempDir('sb-metrics-dyn-');
    const pki = await makeTestPki(path.join(tmp.dir, 'pki'));
    const dir = path.join(tmp.dir, 'state');
    mkdirSync(dir, { recursive: true });
    // The clock stands still: a failed revocation is not retried during the test.
    const clock = new ManualClock(Date.UTC(2026, 11, 1));
    const vault = new FaultCredentialBackend('vault', clock);
    broker = await startBroker({ pki, dir, raw: { ...vaultDynamicRawConfig(pki, dir), metrics_listen: '127.0.0.1:0' }, clock, dynamicCredentials: faultSource(vault) });
    const agent = broker.clientFor('agents', 'support-bot').agent;
    const scrapeBody = async (): Promise<string> => {
      const r = await scrape(broker!.app.metricsPort!, pki.layout.caCert, pki.layout.operators['carol']);
      assert.equal(r.status, 200);
      return r.body;
    };
    assert.equal(sample(await scrapeBody(), 'secretbroker_dynamic_credentials_issued_total{action="reporting.db"}'), 0);
    const res = await call<unknown, LeaseResponse__Output>(agent, 'RequestLease', { action: 'reporting.db', resource: 'reporting', ttlSeconds: 300 });
    assert.equal(res.status, 'GRANTED', JSON.stringify(res.explanation));
    assert.equal(sample(await scrapeBody(), 'secretbroker_dynamic_credentials_issued_total{action="reporting.db"}'), 1);

    vault.failRevokes = Infinity;
    const out = await call<unknown, { lease: { status: string } }>(agent, 'RevokeLease', { leaseId: res.lease!.leaseId });
    assert.equal(out.lease.status, 'REVOKE_FAILED');
    const body = await scrapeBody();
    assert.equal(sample(body, 'secretbroker_credential_revoke_failures_total{backend="vault"}'), 1);
    assert.equal(sample(body, 'secretbroker_lease_events_total{event="revoked"}'), 1);
    assert.doesNotMatch(body, new RegExp(res.lease!.leaseId), 'no lease id in any label');
    vault.failRevokes = 0;
  });
});

describe('metrics of witnesses (real daemon, a witness that is down)', function () {
  this.timeout(60_000);
  let tmp: ReturnType<typeof tempDir>;
  let broker: RunningBroker | undefined;

  after(async () => {
    await broker?.close();
    tmp?.cleanup();
  });

  it('counts each checkpoint a witness did not cosign, labelled with its configured URL', async () => {
    tmp = tempDir('sb-metrics-wit-');
    const pki = await makeTestPki(path.join(tmp.dir, 'pki'));
    const dir = path.join(tmp.dir, 'state');
    mkdirSync(dir, { recursive: true });
    const down = `http://127.0.0.1:${await freeLoopbackPort()}`;
    const raw = baseRawConfig(pki, dir, { metrics_listen: '127.0.0.1:0' });
    raw['evidence'] = { ...(raw['evidence'] as Record<string, unknown>), witnesses: [{ url: down, key: generateCosignerKey('witness.test/w1').verifierKey }] };
    broker = await startBroker({ pki, dir, raw });
    const failures = await until('a witness failure counted', async () => {
      const r = await scrape(broker!.app.metricsPort!, pki.layout.caCert, pki.layout.operators['carol']);
      const n = sample(r.body, `secretbroker_witness_failures_total{witness="${down}"}`);
      return n > 0 ? n : undefined;
    });
    assert.ok(failures >= 1);
  });
});
