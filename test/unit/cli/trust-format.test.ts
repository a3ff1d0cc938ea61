import { strict as assert } from 'node:assert';
import { formatTrust } from '../../../src/cli/trust-commands';
import type { TrustState__Output } from '../../../src/gen/secretbroker/v1/TrustState';

describe('trust show: what an agent wrote reaches the operator terminal neutralised', () => {
  it('escapes controls and bidirectional overrides in history notes (a note quotes an out-of-template call)', () => {
    const t = {
      agent: 'support-bot',
      score: 575,
      tier: 'standard',
      fresh: false,
      updatedAt: '',
      confirmedAt: '',
      previousTier: '',
      previousScore: 0,
      leasesRevoked: 0,
      history: [{ at: '2026-12-05T00:00:00Z', oldScore: 600, oldTier: 'standard', newScore: 575, newTier: 'standard', kind: 'broker.outside_template', weight: -25, by: 'broker', note: 'path "/tickets/\u202eT-1\u001b[2J"' }],
    } as unknown as TrustState__Output;
    const out = formatTrust(t);
    assert.ok(!out.includes('\u202e') && !out.includes('\u001b'), out);
    assert.match(out, /\\u202e/);
    assert.match(out, /\\x1b/);
  });
});
