import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import type { AgentBrokerClient } from '../gen/secretbroker/v1/AgentBroker';
import type { EvidenceClient } from '../gen/secretbroker/v1/Evidence';
import type { OperatorClient } from '../gen/secretbroker/v1/Operator';
import { loadProto } from '../transport/grpc/proto';

export interface ClientCredentials {
  addr: string;
  caPem: Buffer;
  certPem: Buffer;
  keyPem: Buffer;
}

export interface BrokerClients {
  agent: AgentBrokerClient;
  operator: OperatorClient;
  evidence: EvidenceClient;
  close(): void;
}

export function credentialsFromFiles(addr: string, ca: string, cert: string, key: string): ClientCredentials {
  return { addr, caPem: readFileSync(ca), certPem: readFileSync(cert), keyPem: readFileSync(key) };
}

/** mTLS clients for the three services over one channel. */
export function connect(creds: ClientCredentials, options: grpc.ChannelOptions = {}): BrokerClients {
  const { api } = loadProto();
  const channelCreds = grpc.credentials.createSsl(creds.caPem, creds.keyPem, creds.certPem);
  // channelz (grpc-js tracks every call for it by default) has no reader in this client.
  const opts: grpc.ChannelOptions = { 'grpc.max_receive_message_length': 64 * 1024 * 1024, 'grpc.enable_channelz': 0, ...options };
  const v1 = api.secretbroker.v1;
  const agent = new v1.AgentBroker(creds.addr, channelCreds, opts);
  const channel = agent.getChannel();
  const operator = new v1.Operator(creds.addr, channelCreds, { ...opts, channelOverride: channel });
  const evidence = new v1.Evidence(creds.addr, channelCreds, { ...opts, channelOverride: channel });
  return {
    agent,
    operator,
    evidence,
    close: () => agent.close(),
  };
}

/** Promise form of a unary call that keeps trailers (explanations ride in them). */
export function call<Req, Res>(
  client: grpc.Client,
  method: string,
  req: Req,
  opts: { deadlineMs?: number } = {},
): Promise<Res> {
  return new Promise((resolve, reject) => {
    const fn = (client as unknown as Record<string, (...a: unknown[]) => grpc.ClientUnaryCall>)[method]!.bind(client);
    const deadline = new Date(Date.now() + (opts.deadlineMs ?? 30_000));
    fn(req, new grpc.Metadata(), { deadline }, (err: grpc.ServiceError | null, res: Res) => (err ? reject(err) : resolve(res)));
  });
}
