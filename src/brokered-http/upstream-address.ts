import { promises as dnsPromises } from 'node:dns';
import { BrokerError, permissionDenied } from '../lib/errors';
import type { HttpActionSpec } from './http-action';
import { parseIp } from './ip-address';
import { checkAddress } from './network-guard';

/** Resolves a hostname to IP address strings. Injectable so tests (and the daemon) control DNS. */
export type Resolver = (hostname: string) => Promise<readonly string[]>;

export const systemResolver: Resolver = async (hostname) =>
  (await dnsPromises.lookup(hostname, { all: true, verbatim: true })).map((a) => a.address);

export interface CheckedAddress {
  readonly address: string;
  readonly family: 4 | 6;
}

/**
 * Resolves the action's host once and checks every answer against the
 * outbound guard. One refused answer refuses the call: a name that mixes
 * public and internal addresses is what DNS rebinding looks like. The caller
 * connects to the returned address and nothing else.
 */
export async function resolveUpstream(spec: HttpActionSpec, resolver: Resolver): Promise<CheckedAddress> {
  const literal = parseIp(spec.hostname);
  let addresses: readonly string[];
  if (literal) {
    addresses = [spec.hostname];
  } else {
    try {
      addresses = await resolver(spec.hostname);
    } catch (err) {
      throw new BrokerError('unavailable', `upstream host ${spec.hostname} of action ${spec.name} could not be resolved`, { cause: err });
    }
    if (!Array.isArray(addresses) || addresses.length === 0) {
      throw new BrokerError('unavailable', `upstream host ${spec.hostname} of action ${spec.name} could not be resolved`);
    }
  }
  for (const address of addresses) {
    const verdict = checkAddress(String(address), spec.allowCidrs);
    if (!verdict.allowed) {
      const shown = String(address).slice(0, 64);
      throw permissionDenied(
        `upstream host ${spec.hostname} of action ${spec.name} resolved to ${shown} (${verdict.reason}), which is not in the action's allow_networks`,
      );
    }
  }
  const first = parseIp(String(addresses[0]))!;
  return { address: String(addresses[0]).replace(/^\[|\]$/g, ''), family: first.family };
}
