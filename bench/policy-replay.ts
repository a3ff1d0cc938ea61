/**
 * policy replay streams: 100,000 recorded decisions replayed in bounded
 * memory. Records N decisions (half of them flip under the candidate) through
 * a real daemon's evidence log, stops it, then replays the first tenth and
 * the whole log, sampling RSS and heap; the baseline is the tenth, in the
 * same run. Bounded means the whole run's peak heap is about the tenth's.
 *
 *   node --expose-gc -r tsx/cjs bench/policy-replay.ts [--decisions 100000]
 */
import { performance } from 'node:perf_hooks';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { decisionDraft } from '../src/broker/decision-step';
import { replayDecisions } from '../src/broker/policy-replay';
import { recordInputs } from '../src/broker/recorded-inputs';
import { openSqliteLedgerReadOnly } from '../src/evidence/ledger/sqlite-ledger-storage';
import { compilePolicySet, createPolicyEngine } from '../src/policy';
import { baseRawConfig, makeTestPki, startBroker, tempDir } from '../test/helpers/broker-harness';
import { arg } from './bench-lib';

const RECORDED = '@id("refund-10k")\n@reason("r")\npermit (principal in Group::"support", action == Action::"refund", resource) when { context.amount <= 10000 };\n';
const CANDIDATE = '@id("refund-5k")\n@reason("r")\npermit (principal in Group::"support", action == Action::"refund", resource) when { context.amount <= 5000 };\n';

async function main(): Promise<void> {
  const total = arg('decisions', 100_000);
  const tmp = tempDir('sb-bench-replay-');
  const pki = await makeTestPki(path.join(tmp.dir, 'pki'), ['support-bot'], ['alice']);
  const raw = baseRawConfig(pki, tmp.dir, { log_level: 'warn' });
  (raw['actions'] as Record<string, unknown>)['refund'] = {
    http: { base_url: 'https://localhost:1', methods: ['POST'], paths: ['/v1/refunds'], auth: { bearer: 'helpdesk-token' }, allow_networks: ['127.0.0.0/8'], context: { amount: 'body.amount' } },
    resource: 'payments',
  };
  writeFileSync(path.join(raw['policies'] as string, 'refund.cedar'), RECORDED);
  const broker = await startBroker({ pki, dir: tmp.dir, raw });
  const engine = broker.app.policy;
  const agent = broker.config.agents['support-bot']!;
  const t0 = performance.now();
  const start = broker.app.ledger!.size;
  let expectedFlips = 0;
  for (let i = 0; i < total; i += 1000) {
    const drafts = [];
    for (let k = i; k < Math.min(total, i + 1000); k++) {
      const amount = 1 + ((k * 7919) % 10000); // all allowed; those over 5000 flip
      if (amount > 5000) expectedFlips++;
      const context = { amount };
      const d = engine.decide({ agent: { name: agent.name, groups: agent.groups }, action: 'refund', resource: 'payments', context: { params: { amount, note: `refund ${k}` }, amount, trust: 600, tier: 'standard', trust_fresh: false } });
      drafts.push(decisionDraft(agent.name, 'refund', 'payments', d, { score: 600, tier: 'standard' }, recordInputs({ context, params: { amount, note: `refund ${k}` }, fresh: false, grant: { ttlSeconds: 0, maxUses: 0 } })));
    }
    await broker.app.ledger!.append(drafts);
  }
  const size = broker.app.ledger!.size;
  console.log(`recorded ${total} decisions (entries ${start}..${size - 1}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  await broker.close();

  const dir = path.join(tmp.dir, 'candidate');
  mkdirSync(dir);
  writeFileSync(path.join(dir, 'refund.cedar'), CANDIDATE);
  const candidate = createPolicyEngine(compilePolicySet([{ name: 'refund.cedar', text: CANDIDATE }]), {});
  const run = async (label: string, limit: number) => {
    const db = openSqliteLedgerReadOnly(broker.config.state.kind === 'sqlite' ? broker.config.state.path : '');
    global.gc?.();
    const base = process.memoryUsage();
    let peakRss = base.rss;
    let peakHeap = base.heapUsed;
    let seen = 0;
    const sample = () => {
      const m = process.memoryUsage();
      peakRss = Math.max(peakRss, m.rss);
      peakHeap = Math.max(peakHeap, m.heapUsed);
    };
    const t = performance.now();
    const summary = await replayDecisions({
      config: broker.config,
      candidate,
      source: { size: async () => Math.min(await db.storage.size(), start + limit), entries: (s, e) => db.storage.entries(s, e), getEntry: (i) => db.storage.getEntry(i) },
      since: 0,
      onFlip: () => {
        // Live memory, not garbage not yet collected: a full GC before each sample (run with --expose-gc).
        if (++seen % 5000 === 0) {
          global.gc?.();
          sample();
        }
      },
    });
    global.gc?.();
    sample();
    db.close();
    const secs = (performance.now() - t) / 1000;
    console.log(
      `${label.padEnd(22)} replayed ${String(summary.replayed).padStart(7)}, flipped ${String(summary.flipped).padStart(6)} in ${secs.toFixed(1)} s (${(summary.replayed / secs).toFixed(0)}/s); ` +
        `live heap after GC: start ${(base.heapUsed / 2 ** 20).toFixed(1)} MiB, peak +${((peakHeap - base.heapUsed) / 2 ** 20).toFixed(1)} MiB; peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB`,
    );
    return { summary, rss: peakRss, heap: peakHeap - base.heapUsed };
  };
  const tenth = await run('first tenth (baseline)', Math.floor(total / 10));
  const all = await run('all', total);
  console.log(`flips: ${all.summary.flipped} (expected ${expectedFlips}: ${all.summary.flipped === expectedFlips ? 'exact' : 'MISMATCH'})`);
  if (!global.gc) console.log('(run with node --expose-gc -r tsx/cjs for live-heap figures)');
  console.log(`whole log / first tenth, for 10x the decisions: peak RSS ${(all.rss / tenth.rss).toFixed(2)}x; live heap growth ${(all.heap / 2 ** 20).toFixed(1)} MiB vs ${(tenth.heap / 2 ** 20).toFixed(1)} MiB`);
  tmp.cleanup();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
