import { BrokerError } from '../lib/errors';

/** One thing wrong with a policy set, located as precisely as we can. */
export interface PolicyProblem {
  readonly file: string;
  readonly line?: number;
  /** The policy's @id, when it has a usable one. */
  readonly policy?: string;
  readonly message: string;
}

export function formatProblem(p: PolicyProblem): string {
  const where = p.line === undefined ? p.file : `${p.file}:${p.line}`;
  return p.policy === undefined ? `${where}: ${p.message}` : `${where}: policy "${p.policy}": ${p.message}`;
}

/**
 * Every problem in a policy set, reported at once (as Cerbos does for config)
 * so an operator fixes them in one pass. Policy files hold no secrets, so the
 * message may name files and ids.
 */
export class PolicyLoadError extends BrokerError {
  readonly problems: readonly PolicyProblem[];

  constructor(source: string, problems: readonly PolicyProblem[]) {
    const n = problems.length;
    super('failed_precondition', `policy set ${source} has ${n} problem${n === 1 ? '' : 's'}:\n${problems.map((p) => `  ${formatProblem(p)}`).join('\n')}`);
    this.name = 'PolicyLoadError';
    this.problems = Object.freeze(problems.map((p) => Object.freeze({ ...p })));
  }
}
