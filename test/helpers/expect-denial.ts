import { strict as assert } from 'node:assert';
import * as grpc from '@grpc/grpc-js';
import { BrokerError } from '../../src/lib/errors';

/**
 * The one place tests check a denial (issue 14, invariant 7: every denial is
 * explained). Each helper asserts the denial AND a non-empty explanation with
 * a hint; `test/integration/invariant-guards.test.ts` fails if a test checks
 * 'DENIED', PERMISSION_DENIED or a 'deny' decision anywhere else.
 *
 * Denials that are not a decision about a request (the access gate's "this
 * RPC requires the operator role …", the outbound guard, four eyes) carry no
 * explanation by design: `expectRefused` checks those, and that they say why.
 */

/** The shape every explanation has, in the proto (camelCase), internal and trailer (snake_case) forms alike. */
export interface AnyExplanation {
  decision?: string;
  hint?: string;
  summary?: string;
}

/** The trailer's JSON: snake_case, as the broker sent it. */
export type TrailerExplanation = AnyExplanation & Record<string, unknown>;

function assertExplained(e: AnyExplanation | null | undefined, where: string): void {
  assert.ok(e && typeof e === 'object', `${where}: a denial must carry an explanation`);
  assert.equal(typeof e.hint, 'string', `${where}: the explanation has no hint`);
  assert.ok(e.hint!.trim().length > 0, `${where}: the explanation's hint is empty`);
}

/**
 * A RequestLease/Explain response (or LeaseService outcome) that is DENIED:
 * returns its explanation, checked to be non-empty with a hint.
 */
export function expectDenied<E extends AnyExplanation>(res: { status?: string | null; explanation?: E | null }, hint?: RegExp): E {
  assert.equal(res.status, 'DENIED', `expected DENIED, got ${res.status}: ${JSON.stringify(res.explanation ?? null).slice(0, 500)}`);
  assertExplained(res.explanation, 'DENIED');
  if (hint) assert.match(res.explanation!.hint!, hint);
  return res.explanation!;
}

/** True for a DENIED response, which is then checked like `expectDenied` (for counting or filtering denials). */
export function isDenied(res: { status?: string | null; explanation?: AnyExplanation | null }): boolean {
  if (res.status !== 'DENIED') return false;
  assertExplained(res.explanation, 'DENIED');
  return true;
}

/**
 * A policy engine decision or decision step outcome that denies (`decision`
 * or `verdict` is 'deny'); its explanation must have a hint.
 */
export function expectDeny<E extends AnyExplanation>(d: { decision?: unknown; verdict?: string; explanation: E }, hint?: RegExp): E {
  const said = d.verdict ?? d.decision;
  assert.equal(said, 'deny', `expected a deny, got ${String(said)}: ${d.explanation?.summary ?? ''}`);
  assertExplained(d.explanation, 'deny');
  if (d.verdict === undefined) assert.equal(d.explanation.decision, 'deny');
  if (hint) assert.match(d.explanation.hint!, hint);
  return d.explanation;
}

/** True for a deny (decision or verdict), which is then checked like `expectDeny`. */
export function isDeny(d: { decision?: unknown; verdict?: string; explanation: AnyExplanation }): boolean {
  if ((d.verdict ?? d.decision) !== 'deny') return false;
  assertExplained(d.explanation, 'deny');
  return true;
}

/** The `secretbroker-explanation` trailer of a failed call, parsed; checked to be valid JSON under 4 KiB. */
export function trailerExplanation(err: grpc.ServiceError): TrailerExplanation {
  const raw = err.metadata?.get('secretbroker-explanation')?.[0];
  assert.ok(raw !== undefined, `${grpc.status[err.code]} carries no secretbroker-explanation trailer: ${err.details}`);
  const text = String(raw);
  assert.ok(Buffer.byteLength(text) < 4096, `the explanation trailer is ${Buffer.byteLength(text)} bytes; it must stay under 4 KiB`);
  return JSON.parse(text) as TrailerExplanation;
}

/**
 * A call the policy denied (Invoke, or any RPC answering a decision with
 * `code`, PERMISSION_DENIED by default): the explanation from the trailer,
 * with a hint that is also the status detail.
 */
export async function expectDeniedCall(
  p: Promise<unknown>,
  opts: { code?: grpc.status; hint?: RegExp; decision?: string } = {},
): Promise<{ err: grpc.ServiceError; explanation: TrailerExplanation }> {
  const code = opts.code ?? grpc.status.PERMISSION_DENIED;
  const err = await failure(p, code);
  const explanation = trailerExplanation(err);
  assertExplained(explanation, grpc.status[code]!);
  // A permit that matched but whose approval is missing says so (allow_with_obligations); anything else is a deny.
  assert.equal(explanation.decision, opts.decision ?? 'deny');
  if (code === grpc.status.PERMISSION_DENIED) assert.ok(explanation.hint!.startsWith(err.details.replace(/…$/, '')), 'the hint is the status detail');
  if (opts.hint) assert.match(explanation.hint!, opts.hint);
  return { err, explanation };
}

/**
 * PERMISSION_DENIED that is not a decision about a request: the access gate,
 * the outbound guard, four eyes. `why` must match the detail: a refusal still
 * says what it needs.
 */
export async function expectRefused(p: Promise<unknown>, why?: RegExp): Promise<grpc.ServiceError> {
  const err = await failure(p, grpc.status.PERMISSION_DENIED);
  assert.ok(err.details.trim().length > 0, 'a refusal says why');
  if (why) assert.match(err.details, why);
  return err;
}

/**
 * The in-process form of `expectRefused` (unit tests of a service or the
 * outbound guard): a BrokerError of kind permission_denied whose message says
 * why, matching `why`.
 */
export async function expectRefusalError(p: Promise<unknown>, why: RegExp): Promise<BrokerError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof BrokerError, `expected a BrokerError, got ${String(err)}`);
    assert.equal(err.kind, 'permission_denied', `kind of "${err.message}"`);
    assert.ok(err.message.trim().length > 0, 'a refusal says why');
    assert.match(err.message, why);
    return err;
  }
  assert.fail('expected a permission_denied refusal, got success');
}

/** Whether a gRPC status is the access gate's refusal (for tables over every RPC). */
export function isGateRefusal(code: grpc.status, details: string): boolean {
  return code === grpc.status.PERMISSION_DENIED && /^this RPC (is for agents|is for operators|requires the operator role)/.test(details);
}

/** Whether a code is PERMISSION_DENIED or UNAUTHENTICATED: a caller the gate did not let through. */
export function isShutOut(code: grpc.status): boolean {
  return code === grpc.status.PERMISSION_DENIED || code === grpc.status.UNAUTHENTICATED;
}

/** A `decision` evidence entry recording a denial: it carries the explanation, with a hint. */
export function expectDenialEntry<E extends { type?: string; decision?: { effect?: string }; explanation?: AnyExplanation }>(entry: E, hint?: RegExp): AnyExplanation {
  assert.equal(entry.type, 'decision');
  assert.equal(entry.decision?.effect, 'deny');
  assertExplained(entry.explanation, 'the decision entry');
  if (hint) assert.match(entry.explanation!.hint!, hint);
  return entry.explanation!;
}

/**
 * A `decision` evidence entry where policy denied but a break-glass override
 * allowed (`effect` allow, `policy_effect` deny): the overridden denial is
 * still explained, with a hint (what the grant is bound to).
 */
export function expectOverriddenDenialEntry(entry: { type?: string; decision?: Record<string, unknown>; explanation?: AnyExplanation }, hint?: RegExp): AnyExplanation {
  assert.equal(entry.type, 'decision');
  assert.equal(entry.decision?.['effect'], 'allow');
  assert.equal(entry.decision?.['policy_effect'], 'deny', 'the policy denied; the override allowed');
  assertExplained(entry.explanation, 'the overridden decision entry');
  if (hint) assert.match(entry.explanation!.hint!, hint);
  return entry.explanation!;
}

/** A CLI run's text for a denial (`PERMISSION_DENIED: …` on stderr). */
export function assertCliRefusal(text: string, why: RegExp): void {
  assert.match(text, new RegExp(`PERMISSION_DENIED: ${why.source}`));
}

async function failure(p: Promise<unknown>, want: grpc.status): Promise<grpc.ServiceError> {
  try {
    await p;
  } catch (err) {
    const e = err as grpc.ServiceError;
    assert.equal(e.code, want, `expected ${grpc.status[want]}, got ${grpc.status[e.code]}: ${e.message}`);
    return e;
  }
  assert.fail(`expected ${grpc.status[want]}, got success`);
}
