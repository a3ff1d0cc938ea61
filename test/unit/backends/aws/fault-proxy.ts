import { createServer, request, type IncomingMessage, type Server } from 'node:http';

/**
 * An HTTP proxy in front of a real moto_server that answers chosen requests
 * with an AWS error instead of forwarding them: throttling, 5xx, and the
 * refusals moto does not produce (AccessDenied, DecryptionFailure). Everything
 * else reaches moto unchanged, so the success paths stay real.
 */
export interface Fault {
  status: number;
  /** The AWS error type, e.g. ThrottlingException. */
  type: string;
  message?: string;
  /** Never answer (a store that hangs). */
  hang?: boolean;
}

export interface FaultProxy {
  readonly endpoint: string;
  /** Decides per request (by `X-Amz-Target` operation, e.g. "GetSecretValue"); undefined forwards it. */
  fault: (operation: string, seq: number) => Fault | undefined;
  /** Every request seen: operation and arrival time (ms). */
  readonly seen: Array<{ operation: string; at: number }>;
  close(): Promise<void>;
}

export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  const target = new URL(upstream);
  const seen: Array<{ operation: string; at: number }> = [];
  const proxy: FaultProxy = {
    endpoint: '',
    fault: () => undefined,
    seen,
    close: async () => undefined,
  };
  const srv: Server = createServer((req: IncomingMessage, res) => {
    const operation = String(req.headers['x-amz-target'] ?? '').replace(/^secretsmanager\./, '');
    seen.push({ operation, at: Date.now() });
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const f = proxy.fault(operation, seen.length);
      if (f?.hang) return;
      if (f) {
        const body = JSON.stringify({ __type: f.type, message: f.message ?? f.type });
        res.writeHead(f.status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-errortype': f.type, 'x-amzn-requestid': 'fault-proxy' });
        res.end(body);
        return;
      }
      const up = request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
        (ur) => {
          res.writeHead(ur.statusCode ?? 502, ur.headers);
          ur.pipe(res);
        },
      );
      up.on('error', () => res.destroy());
      up.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  Object.assign(proxy, {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((r) => {
        srv.closeAllConnections();
        srv.close(() => r());
      }),
  });
  return proxy;
}
