import { strict as assert } from 'node:assert';
import { CircuitBreaker, type BreakerState } from '../../../src/backends/circuit-breaker';
import { ManualClock } from '../../../src/lib/clock';
import { BrokerError, ContentionError } from '../../../src/lib/errors';

const down = (): Promise<never> => Promise.reject(new BrokerError('unavailable', 'store down'));
const answered = (): Promise<never> => Promise.reject(new BrokerError('not_found', 'no such secret'));

describe('CircuitBreaker', () => {
  let clock: ManualClock;
  let changes: Array<[BreakerState, BreakerState]>;
  let b: CircuitBreaker;
  beforeEach(() => {
    clock = new ManualClock();
    changes = [];
    b = new CircuitBreaker({ name: 'vault', failures: 3, openMs: 10_000, clock, onChange: (s, p) => changes.push([p, s]) });
  });

  it('opens after N consecutive unavailable failures and then fails at once without calling the store', async () => {
    for (let i = 0; i < 3; i++) await assert.rejects(b.run(down), /store down/);
    assert.equal(b.state, 'open');
    let called = 0;
    await assert.rejects(b.run(async () => { called++; }), (e: BrokerError) => e.kind === 'unavailable' && /backend vault is unavailable \(circuit open\)/.test(e.message));
    assert.equal(called, 0);
    assert.deepEqual(changes, [['closed', 'open']]);
  });

  it('a success resets the count; answers from the store (not found) are not failures', async () => {
    await assert.rejects(b.run(down));
    await assert.rejects(b.run(down));
    await b.run(async () => 1);
    await assert.rejects(b.run(down));
    await assert.rejects(b.run(down));
    for (let i = 0; i < 5; i++) await assert.rejects(b.run(answered), /no such secret/);
    assert.equal(b.state, 'closed');
  });

  it('a lock another session held past lock_timeout (ContentionError) is not a failure: one session cannot open the breaker for everyone', async () => {
    const contended = async (): Promise<never> => {
      throw new ContentionError('backend "appdb" (postgres) could not renew a credential: a lock it needs is held by another session');
    };
    for (let i = 0; i < 10; i++) await assert.rejects(b.run(contended), (e: unknown) => e instanceof BrokerError && e.kind === 'unavailable');
    assert.equal(b.state, 'closed');
  });

  it('half-open after the open period: one trial passes (others still fail at once); success closes, failure reopens', async () => {
    for (let i = 0; i < 3; i++) await assert.rejects(b.run(down));
    clock.advance(10_000);
    assert.equal(b.state, 'half_open');
    let release!: () => void;
    const trial = b.run(() => new Promise<string>((r) => { release = () => r('ok'); }));
    await assert.rejects(b.run(async () => 'second'), /circuit open/);
    release();
    assert.equal(await trial, 'ok');
    assert.equal(b.state, 'closed');
    for (let i = 0; i < 3; i++) await assert.rejects(b.run(down));
    clock.advance(10_000);
    await assert.rejects(b.run(down), /store down/);
    assert.equal(b.state, 'open');
    clock.advance(9_999);
    assert.equal(b.state, 'open');
    assert.deepEqual(changes.map(([, s]) => s), ['open', 'half_open', 'closed', 'open', 'half_open', 'open']);
  });

  it('a trial call (an explicit retry) passes an open circuit before its period is over, one at a time; success closes, failure reopens', async () => {
    for (let i = 0; i < 3; i++) await assert.rejects(b.run(down));
    assert.equal(b.state, 'open');
    await assert.rejects(b.run(down, { trial: true }), /store down/);
    assert.equal(b.state, 'open', 'a failed trial leaves it open');
    let release!: () => void;
    const trial = b.run(() => new Promise<string>((r) => { release = () => r('ok'); }), { trial: true });
    await assert.rejects(b.run(async () => 'second', { trial: true }), /circuit open/);
    await assert.rejects(b.run(async () => 'plain'), /circuit open/);
    release();
    assert.equal(await trial, 'ok');
    assert.equal(b.state, 'closed');
    assert.equal(await b.run(async () => 'closed', { trial: true }), 'closed');
    assert.deepEqual(changes.map(([, s]) => s), ['open', 'half_open', 'open', 'half_open', 'closed']);
  });
});
