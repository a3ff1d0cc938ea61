/**
 * A benchmark broker in its own process, built with or without evidence:
 *
 *   off  buildApp({ evidence: false })          no ledger at all
 *   on   buildApp({})                           evidence as the composition root wires it
 *   sim  buildApp({ evidence: false }) plus this file's own wiring: the ledger
 *        over the same store, and insertLease appending `decision` +
 *        `lease.issued` in the same tick (so they share its group commit), as
 *        RequestLease will once evidence is wired into it.
 *
 * Prints {"port":N} on stdout, then serves until stdin closes.
 */
import * as path from 'node:path';
import { buildApp, type AppOptions } from '../src/app';
import { compileConfig } from '../src/config/compile';
import type { Ledger } from '../src/evidence/ledger/ledger';
import { openEvidence } from '../src/evidence/ledger/wire';
import type { LeaseRecord } from '../src/leases/lease';
import { systemClock } from '../src/lib/clock';
import { createLogger } from '../src/lib/logger';
import { openStore } from '../src/store/open-store';
import type { Store } from '../src/store/store';
import { evidenceHandlers } from '../src/transport/grpc/handlers/evidence-handlers';

export type EvidenceMode = 'off' | 'on' | 'sim';

/** The option the composition root honours: `evidence: false` builds the broker without a ledger. */
type BenchAppOptions = AppOptions & { evidence?: boolean };

/** A store whose insertLease also appends the lease's evidence in the same tick. */
function withLeaseEvidence(store: Store, ledger: Ledger): Store {
  const insertLease = async (l: LeaseRecord): Promise<void> => {
    const who = { agent: l.agent, action: l.action, resource: l.resource };
    await Promise.all([
      store.insertLease(l),
      ledger.append([
        { type: 'decision', ...who, decision: { effect: 'allow', policies: l.policyIds, policy_version: l.policyVersion } },
        { type: 'lease.issued', ...who, lease: { id: l.id, expires_at: new Date(l.expiresAt).toISOString(), max_uses: l.maxUses } },
      ]),
    ]);
  };
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'insertLease') return insertLease;
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

async function main(): Promise<void> {
  const [mode, configJson] = process.argv.slice(2) as [EvidenceMode, string];
  const { __dir: dir, ...rest } = JSON.parse(configJson) as Record<string, unknown>;
  const config = compileConfig(rest, path.join(String(dir), 'config.yaml'));
  const log = createLogger({ level: 'warn' });
  let ledger: Ledger | undefined;
  let opts: BenchAppOptions;
  if (mode === 'sim') {
    const store = await openStore(config);
    ledger = await openEvidence({ config, store, clock: systemClock, log });
    opts = { config, log, evidence: false, store: withLeaseEvidence(store, ledger), handlerOverrides: evidenceHandlers(ledger) };
  } else {
    opts = { config, log, ...(mode === 'off' ? { evidence: false } : {}) };
  }
  const app = await buildApp(opts);
  process.stdout.write(JSON.stringify({ port: app.port }) + '\n');
  process.stdin.resume();
  process.stdin.on('end', () => {
    void (async () => {
      await ledger?.close();
      await app.close();
      process.exit(0);
    })();
  });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
