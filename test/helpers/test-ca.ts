import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

/**
 * A throwaway ECDSA P-256 certificate authority for tests: real X.509 chains
 * that Node's TLS verifies like any other, so certificate checks are tested
 * for real (never with verification turned off).
 */

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
// The crypto provider is passed explicitly to every call instead of setting
// x509's process-wide provider.
const crypto = webcrypto as unknown as NonNullable<Parameters<typeof x509.X509CertificateGenerator.create>[1]>;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
type CryptoKey = webcrypto.CryptoKey;

export interface TestCa {
  readonly certPem: string;
  readonly keyPem: string;
  issue(opts: LeafOptions): Promise<TestLeaf>;
}

export interface LeafOptions {
  commonName?: string;
  dnsNames?: readonly string[];
  ipAddresses?: readonly string[];
  /** Defaults to a day either side of now. */
  notBefore?: Date;
  notAfter?: Date;
}

export interface TestLeaf {
  readonly certPem: string;
  readonly keyPem: string;
  /** Leaf followed by the CA, as a server presents it. */
  readonly chainPem: string;
}

const DAY = 24 * 60 * 60 * 1000;

async function keyPair(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function privatePem(key: CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

const serial = (): string => Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString('hex').replace(/^[89a-f]/, '1');

export async function createTestCa(name = 'secret-broker test CA', now: Date = new Date()): Promise<TestCa> {
  const keys = await keyPair();
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serial(),
      name: `CN=${name}`,
      notBefore: new Date(now.getTime() - DAY),
      notAfter: new Date(now.getTime() + 30 * DAY),
      keys,
      signingAlgorithm: ALG,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  const certPem = cert.toString('pem');
  const keyPem = await privatePem(keys.privateKey);

  const issue = async (opts: LeafOptions): Promise<TestLeaf> => {
    const leafKeys = await keyPair();
    const names: x509.JsonGeneralName[] = [
      ...(opts.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
      ...(opts.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
    ];
    const leaf = await x509.X509CertificateGenerator.create(
      {
        serialNumber: serial(),
        subject: `CN=${opts.commonName ?? opts.dnsNames?.[0] ?? 'test leaf'}`,
        issuer: cert.subject,
        notBefore: opts.notBefore ?? new Date(now.getTime() - DAY),
        notAfter: opts.notAfter ?? new Date(now.getTime() + DAY),
        publicKey: leafKeys.publicKey,
        signingKey: keys.privateKey,
        signingAlgorithm: ALG,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
          new x509.SubjectAlternativeNameExtension(names),
          await x509.SubjectKeyIdentifierExtension.create(leafKeys.publicKey, false, crypto),
          await x509.AuthorityKeyIdentifierExtension.create(keys.publicKey, false, crypto),
        ],
      },
      crypto,
    );
    const leafPem = leaf.toString('pem');
    return { certPem: leafPem, keyPem: await privatePem(leafKeys.privateKey), chainPem: `${leafPem}\n${certPem}\n` };
  };

  return { certPem, keyPem, issue };
}
