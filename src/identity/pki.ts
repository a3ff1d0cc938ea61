import { webcrypto, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { x509Lib } from '../lib/x509';

const x509 = x509Lib();

type KeyPair = webcrypto.CryptoKeyPair;

const ALG: Readonly<webcrypto.EcKeyGenParams & webcrypto.EcdsaParams> = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };

export interface KeyPairPem {
  certPem: string;
  keyPem: string;
}

export interface CertificateAuthority extends KeyPairPem {
  cert: InstanceType<typeof x509.X509Certificate>;
  keys: KeyPair;
}

export interface IssueOptions {
  commonName: string;
  dnsNames?: readonly string[];
  ips?: readonly string[];
  uris?: readonly string[];
  usage: 'server' | 'client' | 'both';
  notBefore?: Date;
  notAfter?: Date;
}

async function keyPem(key: webcrypto.CryptoKey): Promise<string> {
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', key);
  return x509.PemConverter.encode(pkcs8, 'PRIVATE KEY') + '\n';
}

const serial = (): string => '01' + randomBytes(15).toString('hex');

/** Creates a self-signed ECDSA P-256 CA. */
export async function createCa(commonName: string, validDays = 3650): Promise<CertificateAuthority> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as KeyPair;
  const notBefore = new Date(Date.now() - 60_000);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${commonName}`,
    notBefore,
    notAfter: new Date(notBefore.getTime() + validDays * 86_400_000),
    signingAlgorithm: ALG,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert, keys, certPem: cert.toString('pem') + '\n', keyPem: await keyPem(keys.privateKey) };
}

/** Issues a leaf certificate signed by `ca`. */
export async function issueCert(ca: CertificateAuthority, opts: IssueOptions, validDays = 825): Promise<KeyPairPem> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as KeyPair;
  const names = [
    ...(opts.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
    ...(opts.ips ?? []).map((value) => ({ type: 'ip' as const, value })),
    ...(opts.uris ?? []).map((value) => ({ type: 'url' as const, value })),
  ];
  const usages = {
    server: [x509.ExtendedKeyUsage.serverAuth],
    client: [x509.ExtendedKeyUsage.clientAuth],
    both: [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth],
  }[opts.usage];
  const notBefore = opts.notBefore ?? new Date(Date.now() - 60_000);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${opts.commonName}`,
    issuer: ca.cert.subject,
    notBefore,
    notAfter: opts.notAfter ?? new Date(notBefore.getTime() + validDays * 86_400_000),
    signingAlgorithm: ALG,
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
      new x509.ExtendedKeyUsageExtension(usages),
      ...(names.length ? [new x509.SubjectAlternativeNameExtension(names)] : []),
      await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
    ],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: await keyPem(keys.privateKey) };
}

export interface PkiInitOptions {
  dir: string;
  trustDomain: string;
  agents: readonly string[];
  operators: readonly string[];
  serverNames?: readonly string[];
  serverIps?: readonly string[];
}

export interface PkiLayout {
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  agents: Record<string, { cert: string; key: string; id: string }>;
  operators: Record<string, { cert: string; key: string; id: string }>;
}

export const agentId = (trustDomain: string, name: string): string => `spiffe://${trustDomain}/agent/${name}`;
export const operatorId = (trustDomain: string, name: string): string => `spiffe://${trustDomain}/human/${name}`;

function writePrivate(file: string, pem: string): void {
  // 0600 from the first byte: the mode applies at creation, so the key is never briefly readable.
  writeFileSync(file, pem, { mode: 0o600, flag: 'wx' });
}

/**
 * Creates a dev/test PKI: the CA (its key in `ca/`, apart from what the server
 * reads), a server certificate for localhost/127.0.0.1, and one client
 * certificate per agent and operator with distinct SPIFFE paths. Refuses to
 * overwrite existing files.
 */
export async function initPki(opts: PkiInitOptions): Promise<PkiLayout> {
  const dir = path.resolve(opts.dir);
  for (const sub of ['ca', 'agents', 'operators']) mkdirSync(path.join(dir, sub), { recursive: true, mode: 0o700 });
  const ca = await createCa(`secret-broker dev CA (${opts.trustDomain})`);
  const layout: PkiLayout = {
    caCert: path.join(dir, 'ca.pem'),
    caKey: path.join(dir, 'ca', 'ca.key'),
    serverCert: path.join(dir, 'server.pem'),
    serverKey: path.join(dir, 'server.key'),
    agents: {},
    operators: {},
  };
  writeFileSync(layout.caCert, ca.certPem, { mode: 0o644, flag: 'wx' });
  writePrivate(layout.caKey, ca.keyPem);
  const server = await issueCert(ca, {
    commonName: 'secret-broker',
    dnsNames: opts.serverNames ?? ['localhost'],
    ips: opts.serverIps ?? ['127.0.0.1', '::1'],
    usage: 'server',
  });
  writeFileSync(layout.serverCert, server.certPem, { mode: 0o644, flag: 'wx' });
  writePrivate(layout.serverKey, server.keyPem);
  const clients: Array<['agents' | 'operators', string, string]> = [
    ...opts.agents.map((n): ['agents', string, string] => ['agents', n, agentId(opts.trustDomain, n)]),
    ...opts.operators.map((n): ['operators', string, string] => ['operators', n, operatorId(opts.trustDomain, n)]),
  ];
  for (const [kind, name, id] of clients) {
    const pair = await issueCert(ca, { commonName: name, uris: [id], usage: 'client' });
    const cert = path.join(dir, kind, `${name}.pem`);
    const key = path.join(dir, kind, `${name}.key`);
    writeFileSync(cert, pair.certPem, { mode: 0o644, flag: 'wx' });
    writePrivate(key, pair.keyPem);
    layout[kind][name] = { cert, key, id };
  }
  return layout;
}

/** A CA from its PEM certificate and PKCS#8 key (as initPki writes them). */
export async function loadCa(certPem: string, caKeyPem: string): Promise<CertificateAuthority> {
  const cert = new x509.X509Certificate(certPem);
  const der = Buffer.from(caKeyPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  const privateKey = await webcrypto.subtle.importKey('pkcs8', der, { name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign']);
  const publicKey = await cert.publicKey.export({ name: 'ECDSA', namedCurve: 'P-256' }, ['verify'], webcrypto as never);
  return { cert, keys: { privateKey, publicKey } as unknown as KeyPair, certPem, keyPem: caKeyPem };
}

/**
 * Adds a client certificate for each agent and operator of `opts` that an
 * existing PKI made by initPki lacks (a dev home made before a name was
 * added); returns the names added. Never overwrites a file.
 */
export async function addMissingClients(opts: Omit<PkiInitOptions, 'serverNames' | 'serverIps'>): Promise<string[]> {
  const dir = path.resolve(opts.dir);
  const wanted: Array<['agents' | 'operators', string, string]> = [
    ...opts.agents.map((n): ['agents', string, string] => ['agents', n, agentId(opts.trustDomain, n)]),
    ...opts.operators.map((n): ['operators', string, string] => ['operators', n, operatorId(opts.trustDomain, n)]),
  ];
  const missing = wanted.filter(([kind, name]) => !existsSync(path.join(dir, kind, `${name}.pem`)));
  if (!missing.length) return [];
  const ca = await loadCa(readFileSync(path.join(dir, 'ca.pem'), 'utf8'), readFileSync(path.join(dir, 'ca', 'ca.key'), 'utf8'));
  for (const [kind, name, id] of missing) {
    mkdirSync(path.join(dir, kind), { recursive: true, mode: 0o700 });
    const pair = await issueCert(ca, { commonName: name, uris: [id], usage: 'client' });
    writeFileSync(path.join(dir, kind, `${name}.pem`), pair.certPem, { mode: 0o644, flag: 'wx' });
    writePrivate(path.join(dir, kind, `${name}.key`), pair.keyPem);
  }
  return missing.map(([kind, name]) => `${kind}/${name}`);
}
