import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { call, type BrokerClients } from '../../src/client/grpc-client';
import type { LeaseResponse__Output } from '../../src/gen/secretbroker/v1/LeaseResponse';
import { baseRawConfig, makeTestPki, startBroker, tempDir, type RunningBroker, type TestPki } from '../helpers/broker-harness';
import { expectDenied } from '../helpers/expect-denial';

/**
 * Issue 10, item 7: when a policy reads context.params, every decision-cache
 * key used to hold the whole params object, so an agent sending distinct
 * large params grew the broker's heap by about their size per request (up to
 * 10 000 entries). Keys are now a SHA-256 of the canonical decision inputs,
 * and the cache is bounded in bytes (policy.cache_bytes).
 */

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heapUsed = (): number => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

const LIMIT = 64 * 1024;
const REQUESTS = 500;
const PAD = 6000; // params stay under the 8 KiB that RequestLease accepts

describe('decision cache: bounded in bytes over the real daemon (policy.cache_bytes)', function () {
  this.timeout(120_000);
  let tmp: ReturnType<typeof tempDir>;
  let pki: TestPki;
  let broker: RunningBroker;

  before(async () => {
    tmp = tempDir();
    pki = await makeTestPki(path.join(tmp.dir, 'pki'));
    const raw = baseRawConfig(pki, tmp.dir, { policy: { cache_bytes: '64KiB' } });
    // A policy that reads context.params, so params are part of every decision's inputs.
    writeFileSync(
      path.join(String(raw['policies']), 'params-reader.cedar'),
      '@id("no-forbidden-note") @reason("test") forbid (principal, action, resource) when { context.params has note && context.params.note == "forbidden" };\n',
    );
    broker = await startBroker({ pki, dir: tmp.dir, raw });
  });
  after(async () => {
    await broker?.close();
    tmp?.cleanup();
  });

  // One connection per agent (clientFor opens a new one each time, which would dwarf what is measured).
  const clients = new Map<string, BrokerClients>();
  const client = (agent: string): BrokerClients => {
    if (!clients.has(agent)) clients.set(agent, broker.clientFor('agents', agent));
    return clients.get(agent)!;
  };
  const request = (agent: 'support-bot' | 'analyst-bot', i: number) =>
    call<unknown, LeaseResponse__Output>(client(agent).agent, 'RequestLease', {
      action: 'tickets.update',
      resource: 'ticket/T-1',
      params: { fields: { ticket: { stringValue: 'T-1' }, note: { stringValue: `${i}:${'x'.repeat(PAD)}` } } },
    });

  it('config: policy.cache_bytes reaches the engine', () => {
    assert.equal(broker.config.policy.cacheBytes, LIMIT);
    assert.equal(broker.app.policy.cacheStats().maxBytes, LIMIT);
  });

  it(`${REQUESTS} distinct large-params decisions keep the cache under ${LIMIT} bytes, and the heap does not grow with them`, async () => {
    // Warm up (connection, code paths), then measure.
    for (let i = 0; i < 20; i++) expectDenied(await request('analyst-bot', -i - 1));
    const before = heapUsed();
    const missesBefore = broker.app.policy.cacheStats().misses;
    for (let i = 0; i < REQUESTS; i++) {
      const r = await request('analyst-bot', i);
      expectDenied(r);
    }
    const after = heapUsed();
    const stats = broker.app.policy.cacheStats();
    assert.ok(stats.misses - missesBefore >= REQUESTS, `every request was a distinct decision: ${JSON.stringify(stats)}`);
    assert.ok(stats.bytes <= LIMIT, `the cache accounts ${stats.bytes} bytes, over the ${LIMIT}-byte bound`);
    assert.ok(stats.size > 0 && stats.size < REQUESTS, `the cache evicted by bytes: ${JSON.stringify(stats)}`);
    // Loosely: unbounded keys would retain REQUESTS x PAD = 3 MB of params.
    const grown = after - before;
    assert.ok(grown < (REQUESTS * PAD) / 3, `the heap grew by ${grown} bytes over ${REQUESTS} requests`);
  });

  it('a cache hit returns the identical decision (a grant and a denial)', async () => {
    for (const agent of ['support-bot', 'analyst-bot'] as const) {
      const first = await request(agent, 1_000_000);
      const hits = broker.app.policy.cacheStats().hits;
      const second = await request(agent, 1_000_000);
      assert.equal(broker.app.policy.cacheStats().hits, hits + 1, 'the second decision came from the cache');
      if (agent === 'support-bot') assert.equal(second.status, 'GRANTED');
      else expectDenied(second);
      assert.equal(second.status, first.status);
      assert.deepEqual(second.explanation, first.explanation);
    }
    // A different note is a different decision input: a miss, not a hit on the last one.
    const hits = broker.app.policy.cacheStats().hits;
    expectDenied(await request('analyst-bot', 1_000_001));
    assert.equal(broker.app.policy.cacheStats().hits, hits);
  });
});
