/**
 * Brokered HTTP calls: the outbound side of Invoke. Typical use:
 *
 *   const spec = defineHttpAction(init);                 // once, at config load
 *   const prepared = prepareCall(spec, agentRequest);    // pure checks, no secret
 *   checkCallBinding(prepared, { pathParams, context }); // against the lease
 *   // … append invoke.intent evidence …
 *   const response = await sendCall(prepared, spec, secret, { idempotencyKey });
 */
export { checkCallBinding, type CallBinding } from './call-binding';
export type { ContextValue } from './context-fields';
export {
  compileHttpAction,
  defineHttpAction,
  DEFAULT_HTTP_LIMITS,
  HttpActionSpecError,
  type ContextField,
  type ContextSource,
  type HttpActionInit,
  type HttpActionProblem,
  type HttpActionResult,
  type HttpActionSpec,
  type HttpAuth,
  type HttpLimits,
} from './http-action';
export { checkAddress, type AddressVerdict } from './network-guard';
export { prepareCall, type AgentHttpRequest, type PreparedCall } from './prepare-call';
export { canonicalRequest, outboundHeaders, sentRequestDigest, type SentRequest } from './request-digest';
export type { HeaderInput } from './request-headers';
export type { QueryInput } from './query-params';
export { REDACTED, SecretScrubber } from './secret-scrubber';
export { sendCall, type BrokeredResponse, type SendCallOptions } from './send-call';
export { systemResolver, type Resolver } from './upstream-address';
export { TlsContexts } from './tls-contexts';
