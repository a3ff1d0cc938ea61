// @peculiar/x509 needs the reflect-metadata polyfill loaded before it; import
// the library only through this module so the order always holds.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

/** The x509 library bound to Node's WebCrypto (idempotent). */
export function x509Lib(): typeof x509 {
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  return x509;
}

export type { x509 };
