/**
 * Policy decision cost, with 100 policies and 1,000 agents:
 * 1. engine.decide latency p50/p99, uncached (cache off) and cached (a warm working set);
 * 2. the share of RequestLease server time spent in policy, measured inside a
 *    real daemon (buildApp, mTLS, SQLite, evidence): every decision and every
 *    RequestLease is timed in the daemon's own process (AppOptions.wrapPolicy
 *    and a wrapper on LeaseService.request), and the RequestLease time is the
 *    baseline of the same run. Goal: policy <= 10 % of RequestLease server time.
 *
 *   npx tsx bench/policy-decision.ts [--seconds 5] [--concurrency 16] [--decisions 20000]
 */
import { performance } from 'node:perf_hooks';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { buildApp } from '../src/app';
import { call, connect } from '../src/client/grpc-client';
import { compileConfig } from '../src/config/compile';
import { createLogger } from '../src/lib/logger';
import { compilePolicySet, createPolicyEngine, type PolicyEngine } from '../src/policy';
import { baseRawConfig, makeTestPki, tempDir } from '../test/helpers/broker-harness';
import { arg, closedLoop } from './bench-lib';

const ACTIONS = 20;
const PERMITS_PER_ACTION = 5;
const AGENTS = 1000;
const GROUPS = 50;
const CERTS = 20;

const group = (i: number) => `g${i % GROUPS}`;
const agentGroups = (i: number) => [group(i), group(i * 7 + 3)];

/** 100 policies: per action five permits for different groups and limits (one with an approval-free max_ttl). */
function policyFiles(): Array<{ name: string; text: string }> {
  const files = [];
  for (let a = 0; a < ACTIONS; a++) {
    const rules = [];
    for (let k = 0; k < PERMITS_PER_ACTION; k++) {
      const g = (a * PERMITS_PER_ACTION + k) % GROUPS;
      rules.push(
        `@id("a${a}-p${k}")\n@reason("group g${g} may do act${a} up to ${(k + 1) * 1000}")\n${k === 0 ? '@max_ttl("300")\n' : ''}` +
          `permit (principal in Group::"g${g}", action == Action::"act${a}", resource)\nwhen { context.amount <= ${(k + 1) * 1000} && context.tier != "quarantined" && context.trust >= ${100 + k * 50} };`,
      );
    }
    files.push({ name: `act${a}.cedar`, text: rules.join('\n\n') + '\n' });
  }
  return files;
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
}

function decideLatencies(engine: PolicyEngine, n: number, amountValues: number): number[] {
  const lat: number[] = [];
  for (let i = 0; i < n; i++) {
    const agent = (i * 7919) % AGENTS;
    const t = performance.now();
    engine.decide({
      agent: { name: `agent-${agent}`, groups: agentGroups(agent) },
      action: `act${i % ACTIONS}`,
      resource: 'r',
      context: { params: {}, amount: (i % amountValues) * 37, trust: 600, tier: 'standard', trust_fresh: false },
    });
    lat.push(performance.now() - t);
  }
  return lat;
}

async function main(): Promise<void> {
  const seconds = arg('seconds', 5);
  const concurrency = arg('concurrency', 16);
  const decisions = arg('decisions', 20_000);
  const files = policyFiles();
  const set = compilePolicySet(files);
  console.log(`${set.policies.length} policies, ${AGENTS} agents in ${GROUPS} groups, ${ACTIONS} actions\n`);

  // 1. The engine alone.
  const uncached = createPolicyEngine(set, { cacheSize: 0, cacheBytes: 0 });
  const cached = createPolicyEngine(set, {});
  decideLatencies(uncached, 2000, 1_000_000); // warm up
  const u = decideLatencies(uncached, decisions, 1_000_000);
  decideLatencies(cached, decisions, 20); // fills the cache with the working set
  const c = decideLatencies(cached, decisions, 20);
  const stats = cached.cacheStats() as unknown as Record<string, number>;
  console.log('engine.decide           p50 ms   p99 ms');
  console.log(`  uncached            ${pct(u, 0.5).toFixed(3).padStart(7)}  ${pct(u, 0.99).toFixed(3).padStart(7)}`);
  console.log(`  cached (warm)       ${pct(c, 0.5).toFixed(3).padStart(7)}  ${pct(c, 0.99).toFixed(3).padStart(7)}   (cache: ${JSON.stringify(stats)})`);
  console.log(`  cached/uncached p50 ratio: ${(pct(c, 0.5) / pct(u, 0.5)).toFixed(3)}\n`);

  // 2. Inside a real daemon.
  const tmp = tempDir('sb-bench-policy-');
  const certAgents = Array.from({ length: CERTS }, (_, i) => `agent-${i}`);
  const pki = await makeTestPki(path.join(tmp.dir, 'pki'), certAgents, ['alice']);
  const raw = baseRawConfig(pki, tmp.dir, {
    log_level: 'warn',
    limits: { requests_per_second: 100000, burst: 100000, active_leases: 10000000, max_body_bytes: 65536 },
  });
  const policies = raw['policies'] as string;
  for (const f of ['analytics.cedar', 'billing.cedar', 'tickets.cedar']) writeFileSync(path.join(policies, f), '// replaced by the bench\n@id("' + f + '-none") forbid (principal, action == Action::"none", resource);\n');
  for (const f of files) writeFileSync(path.join(policies, f.name), f.text);
  const http = { base_url: 'https://localhost:1', methods: ['POST'], paths: ['/x'], auth: { bearer: 'helpdesk-token' }, allow_networks: ['127.0.0.0/8'], context: { amount: 'body.amount' } };
  raw['actions'] = Object.fromEntries(Array.from({ length: ACTIONS }, (_, a) => [`act${a}`, { http, resource: 'r' }]));
  raw['agents'] = Object.fromEntries(Array.from({ length: AGENTS }, (_, i) => [`agent-${i}`, { id: `spiffe://example.org/agent/agent-${i}`, groups: agentGroups(i) }]));
  const config = compileConfig(raw, path.join(tmp.dir, 'config.yaml'));
  let policyMs = 0;
  let policyCalls = 0;
  const timed = (engine: PolicyEngine): PolicyEngine =>
    Object.freeze({
      policySet: engine.policySet,
      version: engine.version,
      cacheStats: () => engine.cacheStats(),
      decide: (req: Parameters<PolicyEngine['decide']>[0]) => {
        const t = performance.now();
        try {
          return engine.decide(req);
        } finally {
          policyMs += performance.now() - t;
          policyCalls++;
        }
      },
    });
  const app = await buildApp({ config, log: createLogger({ level: 'warn' }), wrapPolicy: timed });
  let requestMs = 0;
  let requestCalls = 0;
  const real = app.leases.request.bind(app.leases);
  app.leases.request = async (...args) => {
    const t = performance.now();
    try {
      return await real(...args);
    } finally {
      requestMs += performance.now() - t;
      requestCalls++;
    }
  };
  const clients = certAgents.map((name) => {
    const a = pki.layout.agents[name]!;
    return connect({ addr: `127.0.0.1:${app.port}`, caPem: readFileSync(pki.layout.caCert), certPem: readFileSync(a.cert), keyPem: readFileSync(a.key) });
  });
  let n = 0;
  let granted = 0;
  const req = (distinct: boolean) => async () => {
    const i = ++n;
    // Agent j is in group g{j}: permit a{j/5}-p{j%5} grants it act{j/5} up to (j%5 + 1) x 1000.
    const j = i % CERTS;
    const limit = ((j % PERMITS_PER_ACTION) + 1) * 1000;
    const round = Math.floor(i / CERTS);
    // distinct: an amount this agent has not asked before (for the first `limit` rounds), so decisions miss the cache.
    const amount = distinct ? 1 + (round % (limit - 1)) : 1 + (round % 10);
    const r = await call<unknown, { status: string }>(clients[j]!.agent, 'RequestLease', { action: `act${Math.floor(j / PERMITS_PER_ACTION)}`, params: { fields: { amount: { numberValue: amount } } }, ttlSeconds: 60 });
    if (r.status === 'GRANTED') granted++;
  };
  await closedLoop('warmup', req(true), { seconds: 1, concurrency });
  const rows = [];
  for (const [label, distinct] of [['uncached (every decision a miss)', true], ['cached (10 amounts)', false]] as const) {
    policyMs = policyCalls = requestMs = requestCalls = granted = 0;
    const r = await closedLoop(label, req(distinct), { seconds, concurrency });
    rows.push({ label, r, granted, share: policyMs / requestMs, perDecide: policyMs / policyCalls, perRequest: requestMs / requestCalls });
  }
  console.log(`RequestLease in the daemon (concurrency ${concurrency}, ${seconds}s each; client p50/p99 over mTLS)`);
  for (const x of rows) {
    console.log(
      `  ${x.label.padEnd(34)} ${x.r.throughput.toFixed(0).padStart(6)} req/s  client p50 ${x.r.p50.toFixed(2)} ms p99 ${x.r.p99.toFixed(2)} ms;` +
        ` server RequestLease ${x.perRequest.toFixed(3)} ms/req (baseline), policy ${x.perDecide.toFixed(3)} ms/decision: policy share ${(100 * x.share).toFixed(1)} %  (goal <= 10 %); ${x.granted}/${x.r.ops} granted`,
    );
  }
  for (const cl of clients) cl.close();
  await app.close();
  tmp.cleanup();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
