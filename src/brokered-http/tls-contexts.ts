import * as tls from 'node:tls';
import type { HttpActionSpec } from './http-action';

/**
 * One TLS context per action: Node's root CAs plus the action's own. Building
 * it parses well over a hundred root certificates, which took tens of
 * milliseconds per call when done for every call. Owned by whoever sends
 * calls (the composition root), not module state.
 */
export class TlsContexts {
  private readonly contexts = new WeakMap<HttpActionSpec, tls.SecureContext>();

  get(spec: HttpActionSpec): tls.SecureContext {
    let ctx = this.contexts.get(spec);
    if (!ctx) {
      ctx = tls.createSecureContext({ ca: [...tls.rootCertificates, ...spec.extraCaPem], minVersion: 'TLSv1.2' });
      this.contexts.set(spec, ctx);
    }
    return ctx;
  }
}
