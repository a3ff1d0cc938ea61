import * as net from 'node:net';
import * as tls from 'node:tls';
import { sourceAddress } from './grpc/source-address';

/**
 * When the server has ended its side of a connection (an idle or shut-down
 * session), a peer that never reads would keep the half-closed socket, and its
 * slot, for good: it gets `graceMs` to close, then it is destroyed.
 */
export function closeAfterGrace(socket: net.Socket, graceMs: number): void {
  socket.once('finish', () => setTimeout(() => socket.destroy(), graceMs).unref());
}

export interface TlsAdmissionOptions {
  /** Connections held at once (handshakes may run over it to learn whose they are; see tlsAdmission). */
  readonly maxConnections: number;
  /** The TLS handshake must finish within this. */
  readonly tlsHandshakeMs: number;
  /** How long a peer has to close a connection the server has ended before the socket is destroyed. */
  readonly closeGraceMs: number;
  /** ca, cert, key, and any protocol option (ALPN); a client certificate from `ca` is always required. */
  readonly tlsOptions: tls.TlsOptions;
  /** Takes each connection whose client certificate verified and that got a slot. */
  onVerified(secure: tls.TLSSocket): void;
  /** Told of each failed or timed-out handshake (the connection is closed already). */
  onHandshakeError?(err: Error): void;
}

export interface TlsAdmission {
  /** Not listening yet: the caller listens on it. */
  readonly tcp: net.Server;
  /** Closes the connections still in their TLS handshake. */
  dropHandshakes(): void;
  /** Closes every connection it admitted, verified ones too. */
  dropAll(): void;
}

/**
 * Accepts TCP connections for an mTLS port and admits at most
 * `maxConnections` at once, such that a peer without a certificate cannot
 * lock the callers out (the gRPC port and the metrics port both use it).
 * TLS is terminated here, so a connection still in its handshake (anyone on
 * the network, no certificate needed) is told apart from one whose client
 * certificate verified, and verified ones are counted by the identity their
 * certificate names (its URI SANs, else its fingerprint). Handshakes may take
 * the slots verified connections leave, and never fewer than two. When a
 * newcomer finds no room, handshakes are shared by source address
 * (sourceAddress): the source with the most (the newcomer counted in its own)
 * gives up its oldest, and on a tie the newcomer's own source does (the
 * newcomer itself when it is its source's only one). When a handshake
 * completes with the verified connections at the limit, the identity holding
 * the most connections gives up its oldest (the newcomer itself when that is
 * its own identity). A handshake must finish within `tlsHandshakeMs`. So
 * neither idle sockets that never start TLS, nor a peer churning new ones from
 * one address, nor one caller's pile of connections can lock the others out.
 * (Refusing the newcomer at the limit instead, as a plain `maxConnections`
 * does, lets anyone hold the limit in silent sockets and keep every caller
 * out.)
 */
export function tlsAdmission(opts: TlsAdmissionOptions): TlsAdmission {
  const { maxConnections } = opts;
  const tlsServer = tls.createServer({
    ...opts.tlsOptions,
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
    handshakeTimeout: opts.tlsHandshakeMs,
  });
  /** Open connections still in their TLS handshake, oldest first, with their source address. */
  const handshaking = new Map<net.Socket, string>();
  /** Verified connections by the identity their certificate names, oldest first. */
  const byIdentity = new Map<string, Set<net.Socket>>();
  const identityOf = new Map<net.Socket, string>();
  const byPeer = new Map<string, net.Socket>();
  const peer = (s: net.Socket): string => `${s.remoteAddress}|${s.remotePort}`;
  const oldest = (set: ReadonlySet<net.Socket> | undefined): net.Socket | undefined => set?.values().next().value;
  /** The group that gives up a connection: the one holding the most, counting a newcomer in `own`; a tie goes against `own`. */
  const mostCrowded = (groups: ReadonlyMap<string, ReadonlySet<net.Socket>>, own: string): string => {
    let top = own;
    let most = (groups.get(own)?.size ?? 0) + 1;
    for (const [key, set] of groups) {
      if (set.size > most) {
        top = key;
        most = set.size;
      }
    }
    return top;
  };
  const forget = (raw: net.Socket): void => {
    handshaking.delete(raw);
    const id = identityOf.get(raw);
    if (id !== undefined) {
      identityOf.delete(raw);
      const set = byIdentity.get(id);
      set?.delete(raw);
      if (set?.size === 0) byIdentity.delete(id);
    }
  };
  const evict = (raw: net.Socket): void => {
    forget(raw);
    raw.destroy();
  };
  tlsServer.on('secureConnection', (secure: tls.TLSSocket) => {
    secure.on('error', () => undefined);
    const raw = byPeer.get(peer(secure));
    // Only a connection still waiting for its handshake (not one evicted meanwhile) goes on.
    if (!raw || !handshaking.has(raw)) {
      secure.destroy();
      return;
    }
    handshaking.delete(raw);
    const cert = secure.getPeerCertificate();
    const id = cert.subjectaltname || cert.fingerprint256 || '';
    if (identityOf.size >= maxConnections) {
      // Past the limit (handshakes may run over it to learn whose they are): the identity holding
      // the most connections gives up its oldest; when that is this one's own, this one goes.
      const top = mostCrowded(byIdentity, id);
      if (top === id) {
        evict(raw);
        return;
      }
      evict(oldest(byIdentity.get(top))!);
    }
    identityOf.set(raw, id);
    byIdentity.set(id, (byIdentity.get(id) ?? new Set()).add(raw));
    secure.once('close', () => raw.destroy());
    closeAfterGrace(secure, opts.closeGraceMs);
    opts.onVerified(secure);
  });
  // A failed or timed-out handshake (no certificate, an unknown CA, a silent peer): close it.
  tlsServer.on('tlsClientError', (err: Error, socket: tls.TLSSocket) => {
    socket.destroy();
    opts.onHandshakeError?.(err);
  });
  const tcp = net.createServer((raw) => {
    const source = sourceAddress(raw.remoteAddress);
    // Two at least, so a newcomer gets in while another address keeps a handshake going.
    const room = Math.max(2, maxConnections - identityOf.size);
    if (handshaking.size >= room) {
      // Shared by source: one address churning new connections only ever evicts its own.
      const bySource = new Map<string, Set<net.Socket>>();
      for (const [s, src] of handshaking) bySource.set(src, (bySource.get(src) ?? new Set()).add(s));
      const waiting = oldest(bySource.get(mostCrowded(bySource, source)));
      if (!waiting) {
        raw.destroy();
        return;
      }
      evict(waiting);
    }
    const key = peer(raw);
    handshaking.set(raw, source);
    byPeer.set(key, raw);
    raw.on('error', () => undefined);
    raw.once('close', () => {
      forget(raw);
      if (byPeer.get(key) === raw) byPeer.delete(key);
    });
    tlsServer.emit('connection', raw);
  });
  return {
    tcp,
    dropHandshakes: () => {
      for (const raw of handshaking.keys()) raw.destroy();
    },
    dropAll: () => {
      for (const raw of [...handshaking.keys(), ...identityOf.keys()]) raw.destroy();
    },
  };
}
