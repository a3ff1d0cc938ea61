import { strict as assert } from 'node:assert';
import * as grpc from '@grpc/grpc-js';

/** Awaits a gRPC call that must fail with `want` (and, if given, a detail matching `msg`); returns the error. */
export async function expectCode(p: Promise<unknown>, want: grpc.status, msg?: RegExp): Promise<grpc.ServiceError> {
  try {
    await p;
  } catch (err) {
    const e = err as grpc.ServiceError;
    assert.equal(e.code, want, `expected ${grpc.status[want]}, got ${grpc.status[e.code]}: ${e.message}`);
    if (msg) assert.match(e.details, msg);
    return e;
  }
  assert.fail(`expected ${grpc.status[want]}, got success`);
}
