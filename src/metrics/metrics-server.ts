import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { BrokerConfig, HostPort } from '../config/config-types';
import { singleUriSan } from '../identity/peer-identity';
import type { Logger } from '../lib/logger';
import { CONNECTION_TIMEOUTS } from '../transport/grpc/server';
import { tlsAdmission } from '../transport/tls-admission';
import type { PromMetrics } from './metrics';

/** Connections the metrics port holds at once (scrapers are few; each socket is a file descriptor of the daemon). */
export const MAX_METRICS_CONNECTIONS = 64;

export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Who may scrape: the operator a verified client certificate names by its
 * single URI SAN (as the gRPC side identifies callers), holding role
 * `auditor`. Anyone else (an agent, an operator without the role, an unknown
 * or ambiguous certificate) is refused.
 */
export function scrapeAllowed(config: Pick<BrokerConfig, 'operators'>, der: Buffer | undefined): { ok: true; operator: string } | { ok: false; why: string } {
  let uri: string;
  try {
    uri = singleUriSan(der);
  } catch (err) {
    return { ok: false, why: (err as Error).message };
  }
  const operator = Object.values(config.operators).find((o) => o.id === uri);
  if (!operator) return { ok: false, why: 'the client certificate does not name a configured operator' };
  if (!operator.roles.includes('auditor')) return { ok: false, why: `operator ${operator.name} lacks the role "auditor"` };
  return { ok: true, operator: operator.name };
}

/**
 * Serves GET /metrics on `listen` over HTTPS with client certificates from
 * the broker's CA (invariant 5: nothing in plaintext): a connection without a
 * certificate the CA signed fails the TLS handshake; a valid certificate that
 * is not an auditor's gets 403. Connections are admitted as on the gRPC port
 * (tlsAdmission): at most MAX_METRICS_CONNECTIONS, and silent sockets still in
 * their handshake make room for a newcomer instead of keeping it out.
 */
export async function startMetricsServer(opts: {
  config: Pick<BrokerConfig, 'tls' | 'operators'>;
  listen: HostPort;
  metrics: PromMetrics;
  log: Logger;
  /** Default CONNECTION_TIMEOUTS.tlsHandshakeMs (tests shorten it). */
  tlsHandshakeMs?: number;
}): Promise<MetricsServer> {
  const { config, log } = opts;
  // HTTP over the TLS sockets tlsAdmission verified: this server never listens itself.
  const server = http.createServer((req, res) => {
    const socket = req.socket as TLSSocket;
    const who = socket.authorized ? scrapeAllowed(config, socket.getPeerCertificate(false)?.raw) : ({ ok: false, why: 'no verified client certificate' } as const);
    const reply = (status: number, body: string, headers: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8' }): void => {
      res.writeHead(status, headers).end(body);
    };
    if (!who.ok) {
      log.warn({ why: who.why }, 'metrics scrape refused');
      return reply(403, 'forbidden: metrics are for operators with role auditor\n');
    }
    const url = (req.url ?? '').split('?')[0];
    if (url !== '/metrics') return reply(404, 'not found: the metrics are at /metrics\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405, 'method not allowed: use GET\n', { 'content-type': 'text/plain; charset=utf-8', allow: 'GET, HEAD' });
    opts.metrics.exposition().then(
      ({ contentType, body }) => reply(200, req.method === 'HEAD' ? '' : body, { 'content-type': contentType }),
      (err: unknown) => {
        log.error({ err }, 'metrics: collecting failed');
        reply(500, 'collecting the metrics failed (see the broker log)\n');
      },
    );
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  const admission = tlsAdmission({
    maxConnections: MAX_METRICS_CONNECTIONS,
    // As on the gRPC port: Node's default (120 s) let a silent peer, no certificate needed, hold a socket for two minutes.
    tlsHandshakeMs: opts.tlsHandshakeMs ?? CONNECTION_TIMEOUTS.tlsHandshakeMs,
    closeGraceMs: CONNECTION_TIMEOUTS.closeGraceMs,
    tlsOptions: { ca: readFileSync(config.tls.ca), cert: readFileSync(config.tls.cert), key: readFileSync(config.tls.key) },
    onVerified: (secure) => server.emit('connection', secure),
    onHandshakeError: (err) => log.debug({ err: err.message }, 'metrics: TLS handshake refused'),
  });
  const tcp = admission.tcp;
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(opts.listen.port, opts.listen.host, () => {
      tcp.off('error', reject);
      resolve();
    });
  });
  // 'listening' is what starts the HTTP server's connection tracking (headersTimeout, requestTimeout,
  // closeAllConnections); its connections come from `tcp`, which listens in its place.
  server.emit('listening');
  const port = (tcp.address() as AddressInfo).port;
  log.info({ port }, 'metrics listening (HTTPS, client certificates, role auditor)');
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        tcp.close(() => resolve());
        server.close();
        admission.dropAll();
      }),
  };
}
