/**
 * A benchmark server in its own process, so the server under test gets a core
 * of its own as it would in production: `broker` (the real composition root)
 * or `echo` (a bare grpc-js server with the same mTLS). Prints {"port":N} on
 * stdout, then serves until stdin closes.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { buildApp } from '../src/app';
import { compileConfig } from '../src/config/compile';
import { createLogger } from '../src/lib/logger';
import { loadProto } from '../src/transport/grpc/proto';

async function main(): Promise<void> {
  const [mode, configJson] = process.argv.slice(2);
  const raw = JSON.parse(configJson!) as Record<string, unknown> & { tls: { ca: string; cert: string; key: string } };
  let port: number;
  let stop: () => Promise<void>;
  if (mode === 'broker') {
    const { __dir: dir, ...rest } = raw;
    const config = compileConfig(rest, path.join(String(dir), 'config.yaml'));
    const app = await buildApp({ config, log: createLogger({ level: 'warn' }) });
    port = app.port;
    stop = () => app.close();
  } else {
    const { api } = loadProto();
    const server = new grpc.Server();
    server.addService(api.secretbroker.v1.AgentBroker.service, {
      RequestLease: (c: grpc.ServerUnaryCall<{ action: string; resource: string }, unknown>, cb: grpc.sendUnaryData<unknown>) =>
        cb(null, { status: 'GRANTED', lease: { action: c.request.action, resource: c.request.resource } }),
    });
    const creds = grpc.ServerCredentials.createSsl(readFileSync(raw.tls.ca), [{ cert_chain: readFileSync(raw.tls.cert), private_key: readFileSync(raw.tls.key) }], true);
    port = await new Promise<number>((res, rej) => server.bindAsync('127.0.0.1:0', creds, (e, p) => (e ? rej(e) : res(p))));
    stop = async () => void server.forceShutdown();
  }
  process.stdout.write(JSON.stringify({ port }) + '\n');
  process.stdin.resume();
  process.stdin.on('end', () => void stop().then(() => process.exit(0)));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
