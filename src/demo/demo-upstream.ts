import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { createCa, issueCert } from '../identity/pki';
import type { SecretValue } from '../lib/secret-value';

/**
 * A tiny stand-in for a real API, for the quick start: HTTPS with its own CA,
 * and it demands the bearer token the broker injects. Like many real APIs it
 * is careless: `?debug=1` echoes the Authorization header back, which shows
 * the broker scrubbing the secret from the response.
 */
export interface DemoUpstream {
  port: number;
  caFile: string;
  close(): Promise<void>;
}

export async function ensureDemoUpstreamCerts(dir: string): Promise<{ caFile: string; certFile: string; keyFile: string }> {
  const caFile = path.join(dir, 'ca.pem');
  const certFile = path.join(dir, 'server.pem');
  const keyFile = path.join(dir, 'server.key');
  if (!existsSync(certFile)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const ca = await createCa('secret-broker demo upstream CA');
    const leaf = await issueCert(ca, { commonName: 'demo-upstream', dnsNames: ['localhost'], ips: ['127.0.0.1'], usage: 'server' });
    writeFileSync(caFile, ca.certPem);
    writeFileSync(certFile, leaf.certPem);
    writeFileSync(keyFile, leaf.keyPem, { mode: 0o600 });
  }
  return { caFile, certFile, keyFile };
}

export async function startDemoUpstream(opts: { dir: string; port: number; tokens: Record<string, SecretValue> }): Promise<DemoUpstream> {
  const { caFile, certFile, keyFile } = await ensureDemoUpstreamCerts(opts.dir);
  const accepted = new Set(Object.values(opts.tokens).map((t) => `Bearer ${t.revealString()}`));
  const tickets = new Map<string, Record<string, unknown>>();
  const server = https.createServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'https://localhost');
      const send = (status: number, body: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (!accepted.has(req.headers.authorization ?? '')) return send(401, { error: 'missing or wrong bearer token' });
      const debug = url.searchParams.get('debug') === '1' ? { debug: { you_sent_authorization: req.headers.authorization } } : {};
      const m = /^\/api\/tickets\/([A-Za-z0-9._~-]+)$/.exec(url.pathname);
      if (m && req.method === 'PUT') {
        let update: Record<string, unknown>;
        try {
          update = JSON.parse(Buffer.concat(chunks).toString() || '{}') as Record<string, unknown>;
        } catch {
          return send(400, { error: 'body must be JSON' });
        }
        const t = { id: m[1], ...(tickets.get(m[1]!) ?? {}), ...update, updated_at: new Date().toISOString() };
        tickets.set(m[1]!, t);
        return send(200, { ticket: t, ...debug });
      }
      if (m && req.method === 'GET') return send(200, { ticket: tickets.get(m[1]!) ?? { id: m[1], status: 'open' }, ...debug });
      if (url.pathname === '/v1/refunds' && req.method === 'POST') {
        const body = JSON.parse(Buffer.concat(chunks).toString() || '{}') as { amount?: number };
        return send(200, { id: `re_demo_${Date.now()}`, amount: body.amount, status: 'succeeded', ...debug });
      }
      return send(404, { error: 'not found' });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    caFile,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
