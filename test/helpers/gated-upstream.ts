import type { IncomingMessage, ServerResponse } from 'node:http';
import * as https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { createTestCa } from './test-ca';

/**
 * A real HTTPS upstream (own CA, IP SAN 127.0.0.1) that holds every request
 * until the test releases it, then answers 200 with a small JSON body. Tests
 * use it to change the broker's state while a brokered call is in flight
 * (between invoke.intent and invoke.result).
 */
export interface GatedUpstream {
  readonly port: number;
  readonly caPem: string;
  /** Every request received: method, url, headers. */
  readonly requests: Array<{ method: string; url: string; headers: IncomingMessage['headers'] }>;
  /** Resolves once at least `n` requests arrived (and are being held). */
  waitForRequests(n: number, timeoutMs?: number): Promise<void>;
  /** Answers every held request (and lets later ones through at once). */
  release(): void;
  close(): Promise<void>;
}

export async function startGatedUpstream(): Promise<GatedUpstream> {
  const ca = await createTestCa('gated upstream test CA');
  const leaf = await ca.issue({ dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const requests: GatedUpstream['requests'] = [];
  const held: ServerResponse[] = [];
  const sockets = new Set<Socket>();
  let open = false;
  const answer = (res: ServerResponse): void => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"ok":true}');
  };
  const server = https.createServer({ key: leaf.keyPem, cert: leaf.chainPem }, (req, res) => {
    req.resume();
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: { ...req.headers } });
      if (open) answer(res);
      else held.push(res);
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    caPem: ca.certPem,
    requests,
    waitForRequests: async (n, timeoutMs = 15_000) => {
      const until = Date.now() + timeoutMs;
      while (requests.length < n) {
        if (Date.now() > until) throw new Error(`the gated upstream saw ${requests.length} requests, not ${n}, within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    release: () => {
      open = true;
      for (const res of held.splice(0)) answer(res);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
