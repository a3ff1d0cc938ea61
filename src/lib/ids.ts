import { randomBytes } from 'node:crypto';

/** Lease ids carry 144 random bits (DESIGN asks for at least 128). */
export const newLeaseId = (): string => `lease_${randomBytes(18).toString('base64url')}`;

export const newRequestId = (): string => randomBytes(8).toString('hex');
