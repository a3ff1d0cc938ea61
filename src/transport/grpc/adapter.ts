import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { Limits, OperatorRole } from '../../config/config-types';
import type { RequestIds } from '../../lib/ids';
import { permissionDenied, resourceExhausted } from '../../lib/errors';
import type { Authenticator, Principal } from './authn';
import { toStatus } from './error-status';
import { checkDepth, type RateLimiter, type StreamCounter } from './limits';

/** Set by the size-recording deserializer (see withRecordedSizes). */
export const WIRE_SIZE = Symbol('wireSize');

/** `role`: the operator role the RPC requires, or several of which any one will do. */
export type Access = { who: 'agent' } | { who: 'operator'; role: OperatorRole | readonly OperatorRole[] } | { who: 'any' };

/** 'the operator role "admin"' or 'the operator role "admin" or "approver"'. */
function roleText(role: OperatorRole | readonly OperatorRole[]): string {
  return `the operator role ${(typeof role === 'string' ? [role] : role).map((r) => `"${r}"`).join(' or ')}`;
}

export interface CallContext {
  principal: Principal;
  requestId: string;
  log: Logger;
  /** Absolute deadline in ms since the epoch, or Infinity. */
  deadline: number;
  signal: AbortSignal;
}

export type UnaryHandler<Req, Res> = (req: Req, ctx: CallContext) => Promise<Res>;
export type StreamHandler<Req, Res> = (req: Req, ctx: CallContext, send: (msg: Res) => void) => Promise<void>;

export interface GateDeps {
  authenticator: Authenticator;
  rateLimiter: RateLimiter;
  streams: StreamCounter;
  limits: Limits;
  log: Logger;
  ids: RequestIds;
}

/**
 * The one adapter every handler goes through: identity, authorization by role,
 * limits, then the handler, then the single error mapping. Handlers never see
 * an unauthenticated or unauthorized caller.
 */
export class Gate {
  constructor(private readonly deps: GateDeps) {}

  private admit(call: grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>, access: Access, req: unknown, requestId: string): CallContext {
    const principal = this.deps.authenticator.authenticate(call);
    if (access.who === 'agent' && principal.kind !== 'agent') throw permissionDenied('this RPC is for agents');
    if (access.who === 'operator') {
      const roles: readonly OperatorRole[] = typeof access.role === 'string' ? [access.role] : access.role;
      if (principal.kind !== 'operator') throw permissionDenied(`this RPC requires ${roleText(access.role)}`);
      if (!roles.some((r) => principal.operator.roles.includes(r))) throw permissionDenied(`this RPC requires ${roleText(access.role)}`);
    }
    const limits = principal.kind === 'agent' ? principal.agent.limits : this.deps.limits;
    this.deps.rateLimiter.take(`${principal.kind}:${principal.name}`, limits);
    const size = (req as { [WIRE_SIZE]?: number } | null)?.[WIRE_SIZE] ?? 0;
    if (size > limits.maxBodyBytes) throw resourceExhausted(`message is ${size} bytes; the limit is ${limits.maxBodyBytes}`);
    checkDepth(req, limits.maxMessageDepth);
    const d = call.getDeadline();
    const deadline = d instanceof Date ? d.getTime() : Number.isFinite(d) ? d : Infinity;
    let signal: AbortSignal | undefined;
    return {
      principal,
      requestId,
      log: this.deps.log,
      deadline,
      // Made on first use: most handlers never need it, and an AbortController per call is not free.
      get signal(): AbortSignal {
        if (!signal) {
          const ac = new AbortController();
          if (call.cancelled) ac.abort();
          else call.once('cancelled', () => ac.abort());
          signal = ac.signal;
        }
        return signal;
      },
    };
  }

  unary<Req, Res>(method: string, access: Access, handler: UnaryHandler<Req, Res>): grpc.handleUnaryCall<Req, Res> {
    return (call, callback) => {
      const requestId = this.deps.ids.newRequestId();
      let log: Logger | undefined;
      Promise.resolve()
        .then(() => {
          const ctx = this.admit(call, access, call.request, requestId);
          // One child logger per request, bound to who and what.
          log = this.deps.log.child({ request_id: requestId, method, principal: `${ctx.principal.kind}:${ctx.principal.name}` });
          ctx.log = log;
          return handler(call.request, ctx);
        })
        .then(
          (res) => callback(null, res),
          (err: unknown) => callback(toStatus(err, requestId, log ?? this.deps.log.child({ request_id: requestId, method })) as grpc.ServerErrorResponse),
        );
    };
  }

  serverStream<Req, Res>(method: string, access: Access, handler: StreamHandler<Req, Res>): grpc.handleServerStreamingCall<Req, Res> {
    return (call) => {
      const requestId = this.deps.ids.newRequestId();
      let log: Logger | undefined;
      let release: (() => void) | undefined;
      Promise.resolve()
        .then(() => {
          const ctx = this.admit(call, access, call.request, requestId);
          log = this.deps.log.child({ request_id: requestId, method, principal: `${ctx.principal.kind}:${ctx.principal.name}` });
          ctx.log = log;
          const limits = ctx.principal.kind === 'agent' ? ctx.principal.agent.limits : this.deps.limits;
          release = this.deps.streams.acquire(`${ctx.principal.kind}:${ctx.principal.name}`, limits.openStreams);
          return handler(call.request, ctx, (msg) => call.write(msg));
        })
        .then(
          () => call.end(),
          (err: unknown) => call.emit('error', toStatus(err, requestId, log ?? this.deps.log.child({ request_id: requestId, method }))),
        )
        .finally(() => release?.());
    };
  }
}

/**
 * Wraps a service definition's deserializers so each decoded request carries
 * its wire size (non-enumerable), letting the gate apply per-agent size limits.
 */
export function withRecordedSizes(def: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const out: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, m] of Object.entries(def)) {
    out[name] = {
      ...m,
      requestDeserialize: (buf: Buffer) => {
        const msg = m.requestDeserialize(buf) as object;
        Object.defineProperty(msg, WIRE_SIZE, { value: buf.length, enumerable: false });
        return msg;
      },
    };
  }
  return out as grpc.ServiceDefinition;
}

