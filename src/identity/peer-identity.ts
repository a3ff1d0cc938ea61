import { X509Certificate } from 'node:crypto';
import { BrokerError } from '../lib/errors';
import { x509Lib } from '../lib/x509';

const x509 = x509Lib();

/**
 * Extracts the URI SANs of a DER certificate. Parsed structurally (not from
 * Node's comma-joined `subjectaltname` text) so a crafted SAN value cannot
 * smuggle in a second identity.
 */
export function uriSans(der: Buffer): string[] {
  const cert = new x509.X509Certificate(der);
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  if (!san) return [];
  return san.names.items.filter((n) => n.type === 'url').map((n) => n.value);
}

/** The single URI SAN of a client certificate, or UNAUTHENTICATED. */
export function singleUriSan(der: Buffer | undefined): string {
  if (!der || der.length === 0) throw new BrokerError('unauthenticated', 'a client certificate is required');
  let uris: string[];
  try {
    // Node parses and checks the DER first; @peculiar/x509 then reads the SAN structure.
    new X509Certificate(der);
    uris = uriSans(der);
  } catch (cause) {
    throw new BrokerError('unauthenticated', 'the client certificate could not be parsed', { cause });
  }
  if (uris.length !== 1) {
    throw new BrokerError('unauthenticated', `the client certificate must carry exactly one URI SAN (it has ${uris.length})`);
  }
  return uris[0]!;
}
