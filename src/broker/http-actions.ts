import { readFileSync } from 'node:fs';
import { compileHttpAction, type HttpActionSpec } from '../brokered-http';
import type { BrokerConfig } from '../config/config-types';
import { ConfigError } from '../config/problems';

/** Compiles every configured HTTP action into the outbound guard's frozen spec; reports all problems at once. */
export function compileHttpActions(config: Pick<BrokerConfig, 'actions' | 'file'>): ReadonlyMap<string, HttpActionSpec> {
  const out = new Map<string, HttpActionSpec>();
  const problems: Array<{ path: string; message: string }> = [];
  for (const a of Object.values(config.actions)) {
    if (!a.http) continue;
    const extraCaPem: string[] = [];
    a.http.caFiles.forEach((f, i) => {
      try {
        extraCaPem.push(readFileSync(f, 'utf8'));
      } catch (err) {
        problems.push({ path: `actions.${a.name}.http.ca_files[${i}]`, message: `cannot read ${f} (${(err as NodeJS.ErrnoException).code ?? 'error'})` });
      }
    });
    const r = compileHttpAction({
      name: a.name,
      baseUrl: a.http.baseUrl,
      methods: a.http.methods,
      paths: a.http.paths,
      auth: a.http.auth,
      allowNetworks: a.http.allowNetworks,
      allowHeaders: a.http.allowHeaders,
      extraCaPem,
      context: a.http.context,
      integerFields: a.budget ? [a.budget.field] : [],
      limits: { maxResponseBodyBytes: a.http.maxResponseBytes, deadlineMs: a.http.timeoutMs },
    });
    if (r.spec) out.set(a.name, r.spec);
    else for (const p of r.problems) problems.push({ path: `actions.${a.name}.http.${p.path}`, message: p.message });
  }
  if (problems.length) throw new ConfigError(config.file, problems);
  return out;
}
