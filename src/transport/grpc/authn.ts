import { createHash } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import type { AgentConfig, BrokerConfig, OperatorConfig } from '../../config/config-types';
import { singleUriSan } from '../../identity/peer-identity';
import { BrokerError } from '../../lib/errors';

export type Principal = { kind: 'agent'; name: string; agent: AgentConfig } | { kind: 'operator'; name: string; operator: OperatorConfig };

const MAX_CACHE = 4096;

/**
 * Maps a verified client certificate (the TLS layer already checked chain and
 * validity against our CA) to a configured agent or operator by its single URI
 * SAN. Results are cached per certificate digest, per instance.
 */
export class Authenticator {
  private readonly byId = new Map<string, Principal>();
  private readonly cache = new Map<string, Principal>();
  /** Per HTTP/2 session: a session's client certificate cannot change (HTTP/2 forbids renegotiation). */
  private readonly bySession = new WeakMap<object, Principal>();

  constructor(config: Pick<BrokerConfig, 'agents' | 'operators'>) {
    for (const agent of Object.values(config.agents)) this.byId.set(agent.id, { kind: 'agent', name: agent.name, agent });
    for (const operator of Object.values(config.operators)) this.byId.set(operator.id, { kind: 'operator', name: operator.name, operator });
  }

  authenticate(call: { getAuthContext(): { transportSecurityType?: string; sslPeerCertificate?: PeerCertificate } }): Principal {
    // Reading the peer certificate builds a large object on every call; resolve once per session.
    const session = sessionOf(call);
    const known = session ? this.bySession.get(session) : undefined;
    if (known) return known;
    const principal = this.fromCertificate(call);
    if (session) this.bySession.set(session, principal);
    return principal;
  }

  private fromCertificate(call: { getAuthContext(): { transportSecurityType?: string; sslPeerCertificate?: PeerCertificate } }): Principal {
    const ctx = call.getAuthContext();
    const der = ctx?.sslPeerCertificate?.raw;
    if (!ctx?.transportSecurityType || !der) throw new BrokerError('unauthenticated', 'a client certificate is required');
    const digest = createHash('sha256').update(der).digest('hex');
    const cached = this.cache.get(digest);
    if (cached) return cached;
    const uri = singleUriSan(der);
    const principal = this.byId.get(uri);
    if (!principal) throw new BrokerError('unauthenticated', 'the client certificate does not name a configured agent or operator');
    if (this.cache.size >= MAX_CACHE) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(digest, principal);
    return principal;
  }
}

/**
 * The HTTP/2 session a grpc-js server call runs on, when grpc-js exposes it
 * (an internal field; without it every call reads the certificate again).
 * Only a TLS session that passed client verification is returned.
 */
function sessionOf(call: unknown): object | undefined {
  const session = (call as { call?: { stream?: { session?: { socket?: { authorized?: boolean }; destroyed?: boolean } } } })?.call?.stream?.session;
  if (!session || session.destroyed || session.socket?.authorized !== true) return undefined;
  return session;
}
