import { strict as assert } from 'node:assert';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createVaultClient } from '../../../../src/backends/vault/vault-client';
import { toBrokerError, VaultHttpError } from '../../../../src/backends/vault/vault-errors';
import { VaultTransportError } from '../../../../src/backends/vault/vault-transport';

/**
 * The transport against something misbehaving in front of Vault (a real HTTP
 * server on loopback): oversize answers, HTML error pages, redirects.
 */
describe('vault transport: what a front of Vault may answer', () => {
  let server: http.Server;
  let base: string;
  const hits: string[] = [];
  const headers: http.IncomingHttpHeaders[] = [];
  before(async () => {
    server = http.createServer((req, res) => {
      hits.push(req.url ?? '');
      headers.push(req.headers);
      if (req.url === '/v1/huge') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(`{"data":"${'x'.repeat(2 * 1024 * 1024)}"}`);
      } else if (req.url === '/v1/html-ok') {
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<html>hello</html>');
      } else if (req.url === '/v1/html-502') {
        res.writeHead(502, { 'content-type': 'text/html' });
        res.end('<html>bad gateway from the load balancer</html>');
      } else if (req.url === '/v1/redirect') {
        res.writeHead(307, { location: `${base}/v1/elsewhere` });
        res.end();
      } else {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"data":{"ok":true}}');
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  const ctx = { backend: 'v', subject: 'secret "x"', verb: 'read' };

  it('an answer over 1 MiB is refused (unavailable), not buffered', async () => {
    const c = createVaultClient({ address: base, timeoutMs: 5_000 });
    try {
      const err = await c.call({ method: 'GET', path: 'huge' }).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof VaultTransportError && err.code === 'ETOOBIG', String(err));
      assert.equal(toBrokerError(err, ctx).kind, 'unavailable');
    } finally {
      c.close();
    }
  });

  it('a success that is not JSON is refused; an error page that is not JSON is a status with no text', async () => {
    const c = createVaultClient({ address: base, timeoutMs: 5_000 });
    try {
      const okHtml = await c.call({ method: 'GET', path: 'html-ok' }).then(() => undefined, (e: unknown) => e);
      assert.ok(okHtml instanceof VaultTransportError && okHtml.code === 'EBADJSON');
      const bad = await c.call({ method: 'GET', path: 'html-502' }).then(() => undefined, (e: unknown) => e);
      assert.ok(bad instanceof VaultHttpError);
      assert.equal(bad.status, 502);
      assert.deepEqual(bad.errors, []);
      assert.equal(toBrokerError(bad, ctx).kind, 'unavailable');
      headers.length = 0;
      assert.deepEqual(await c.call({ method: 'GET', path: 'fine' }), { data: { ok: true } });
      assert.equal(headers[0]!['x-vault-request'], 'true', 'sent like Vault\'s own clients (Vault Agent may require it)');
      assert.equal(headers[0]!['x-vault-token'], undefined, 'no token unless the call has one');
    } finally {
      c.close();
    }
  });

  it('redirects are not followed (a standby\'s 307 is unavailable; the token never goes elsewhere)', async () => {
    const c = createVaultClient({ address: base, timeoutMs: 5_000 });
    try {
      hits.length = 0;
      const err = await c.call({ method: 'GET', path: 'redirect', token: 'hvs.t' }).then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof VaultHttpError && err.status === 307);
      assert.equal(toBrokerError(err, ctx).kind, 'unavailable');
      assert.deepEqual(hits, ['/v1/redirect']);
    } finally {
      c.close();
    }
  });
});
