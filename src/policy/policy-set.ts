import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CedarApi, cedarErrorText, defaultCedarApi, DetailedError, PolicyJson } from './cedar-api';
import { deepFreeze } from './deep-freeze';
import { Obligations } from './obligations';
import { readAnnotations } from './policy-annotations';
import { contextAttributes, policyHead } from './policy-conditions';
import { PolicyLoadError, PolicyProblem } from './policy-load-error';

export interface PolicyInfo {
  /** From `@id`; used in results, explanations and evidence instead of Cedar's `policy0`. */
  readonly id: string;
  readonly effect: 'permit' | 'forbid';
  /** Raw annotations as written. */
  readonly annotations: Readonly<Record<string, string>>;
  /** `@reason`, or a stand-in naming the policy when absent. */
  readonly reason: string;
  /** `@requires`, when given; explanations derive one otherwise. */
  readonly requires?: string;
  /** From `@obligation`, `@max_ttl`, `@max_uses`; empty for forbids. */
  readonly obligations: Obligations;
  readonly file: string;
  /** 1-based line of the policy's first character (its first annotation). */
  readonly line: number;
  /** The policy's source text, annotations included. */
  readonly text: string;
  readonly json: PolicyJson;
}

export interface PolicySet {
  /** Hex SHA-256 over the canonical form of the files (names and contents). */
  readonly version: string;
  /** Where it was loaded from, for messages. */
  readonly source: string;
  readonly files: readonly string[];
  /** In file order, then source order. */
  readonly policies: readonly PolicyInfo[];
  /** The id under which cedar-wasm holds the preparsed set (see `preparsePolicySet`). */
  readonly preparsedId: string;
}

export interface PolicyFile {
  readonly name: string;
  readonly text: string;
}

/** Bumped if the canonical form below ever changes, so old and new versions never collide. */
const VERSION_DOMAIN = 'secret-broker/policy-set/v1';
/** Policy files in a directory; dotfiles are editor droppings, not policies. */
const POLICY_FILE = /^[^.].*\.cedar$/;
/** Decisions must not depend on a clock (DESIGN, Policies), and the decision cache relies on it. */
const FORBIDDEN_CONTEXT_KEYS: readonly string[] = ['trust_age_seconds'];

/**
 * Reads every `*.cedar` file directly in `dir` (sorted by name; symlinks such
 * as Kubernetes ConfigMap mounts are followed) and compiles them. Throws
 * PolicyLoadError listing every problem.
 */
export async function loadPolicySet(dir: string, opts: { cedar?: CedarApi } = {}): Promise<PolicySet> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => POLICY_FILE.test(n));
  } catch (err) {
    throw new PolicyLoadError(dir, [{ file: dir, message: `cannot read policy directory (${(err as NodeJS.ErrnoException).code ?? 'error'})` }]);
  }
  const problems: PolicyProblem[] = [];
  const files: PolicyFile[] = [];
  const decoder = new TextDecoder('utf-8', { fatal: true });
  for (const name of names.sort()) {
    const path = join(dir, name);
    let bytes: Buffer;
    try {
      if (!(await stat(path)).isFile()) continue;
      bytes = await readFile(path);
    } catch (err) {
      problems.push({ file: name, message: `cannot read file (${(err as NodeJS.ErrnoException).code ?? 'error'})` });
      continue;
    }
    try {
      files.push({ name, text: decoder.decode(bytes) });
    } catch {
      problems.push({ file: name, message: 'file is not valid UTF-8' });
    }
  }
  if (files.length === 0 && problems.length === 0) problems.push({ file: dir, message: 'no *.cedar files found' });
  if (problems.length > 0) throw new PolicyLoadError(dir, problems);
  return compilePolicySet(files, { source: dir, ...opts });
}

/** Hex SHA-256 of the files' canonical form: domain tag plus [name, text] pairs sorted by name. */
export function policySetVersion(files: readonly PolicyFile[]): string {
  const canonical = JSON.stringify([VERSION_DOMAIN, sortFiles(files).map((f) => [f.name, f.text])]);
  return createHash('sha256').update(canonical, 'utf8').digest('hex');
}

/** Parses and validates policy files already in memory; the pure core of `loadPolicySet`. */
export function compilePolicySet(input: readonly PolicyFile[], opts: { source?: string; cedar?: CedarApi } = {}): PolicySet {
  const cedar = opts.cedar ?? defaultCedarApi;
  const source = opts.source ?? '(memory)';
  const files = sortFiles(input);
  const problems: PolicyProblem[] = [];
  const policies: PolicyInfo[] = [];
  const seen = new Map<string, { file: string; line: number }>();

  for (let i = 1; i < files.length; i++) {
    if (files[i].name === files[i - 1].name) problems.push({ file: files[i].name, message: 'file name given twice' });
  }

  for (const file of files) {
    for (const parsed of parseFile(file, cedar, problems)) {
      const { annotations, problems: annProblems } = readAnnotations(parsed.json.annotations ?? {}, parsed.json.effect);
      const label = annotations.id;
      const at = (message: string): PolicyProblem => ({ file: file.name, line: parsed.line, ...(label === undefined ? {} : { policy: label }), message });
      // Without an id, the scope is what lets a reader find the policy.
      problems.push(...annProblems.map((m) => at(label === undefined && m.startsWith('missing @id') ? `${m} on ${policyHead(parsed.json)}` : m)));
      for (const key of FORBIDDEN_CONTEXT_KEYS) {
        if (contextAttributes(parsed.json.conditions).has(key)) {
          problems.push(at(`reads context.${key}, which is not provided: decisions must not depend on the clock`));
        }
      }
      if (label === undefined) continue;
      const previous = seen.get(label);
      if (previous !== undefined) {
        problems.push(at(`duplicate @id (first used at ${previous.file}:${previous.line})`));
        continue;
      }
      seen.set(label, { file: file.name, line: parsed.line });
      if (annProblems.length > 0) continue;
      const info: PolicyInfo = {
        id: label,
        effect: parsed.json.effect,
        annotations: Object.fromEntries(Object.entries(parsed.json.annotations ?? {}).map(([k, v]) => [k, v ?? ''])),
        reason: annotations.reason ?? `${parsed.json.effect} policy ${label} (no @reason given)`,
        ...(annotations.requires === undefined ? {} : { requires: annotations.requires }),
        obligations: annotations.obligations,
        file: file.name,
        line: parsed.line,
        text: parsed.text,
        json: parsed.json,
      };
      policies.push(info);
    }
  }
  if (problems.length > 0) throw new PolicyLoadError(source, problems);

  const version = policySetVersion(files);
  // Content-addressed, so two engines over identical files share one entry in
  // cedar-wasm's thread-local cache and a reload cannot clobber a live set.
  const preparsedId = `secret-broker/${version}`;
  const staticPolicies = Object.fromEntries(policies.map((p) => [p.id, p.text]));
  const answer = safely(() => cedar.preparsePolicySet(preparsedId, { staticPolicies }));
  if (answer.type !== 'success') {
    throw new PolicyLoadError(source, [{ file: source, message: `Cedar rejected the policy set: ${cedarErrorText(answer.errors)}` }]);
  }

  return deepFreeze({ version, source, files: files.map((f) => f.name), policies, preparsedId });
}

interface ParsedPolicy {
  readonly text: string;
  readonly line: number;
  readonly json: PolicyJson;
}

/** Splits one file into policies in source order, recording parse problems. */
function parseFile(file: PolicyFile, cedar: CedarApi, problems: PolicyProblem[]): ParsedPolicy[] {
  const parts = safely(() => cedar.policySetTextToParts(file.text));
  if (parts.type !== 'success') {
    for (const e of flattenErrors(parts.errors)) {
      const offset = e.sourceLocations?.[0]?.start;
      problems.push({ file: file.name, ...(offset === undefined ? {} : { line: lineAt(file.text, offset) }), message: errorLine(e) });
    }
    return [];
  }
  for (const t of parts.policy_templates) {
    problems.push({ file: file.name, line: locate(file.text, t, new Set()) ?? 1, message: 'templates (policies with ?principal/?resource slots) are not supported' });
  }
  // policySetTextToParts returns the policies sorted by Cedar's positional id
  // ("policy10" before "policy2"), not in source order; each text is a verbatim
  // slice of the file, so finding it restores the order and gives line numbers.
  const claimed = new Set<number>();
  const located = parts.policies.map((text) => ({ text, offset: locateOffset(file.text, text, claimed) }));
  located.sort((a, b) => a.offset - b.offset);

  const out: ParsedPolicy[] = [];
  for (const { text, offset } of located) {
    const line = offset === Number.MAX_SAFE_INTEGER ? 1 : lineAt(file.text, offset);
    const json = safely(() => cedar.policyToJson(text));
    if (json.type !== 'success') {
      problems.push({ file: file.name, line, message: cedarErrorText(json.errors) });
      continue;
    }
    out.push({ text, line, json: json.json });
  }
  return out;
}

function locateOffset(haystack: string, needle: string, claimed: Set<number>): number {
  for (let at = haystack.indexOf(needle); at !== -1; at = haystack.indexOf(needle, at + 1)) {
    if (!claimed.has(at)) {
      claimed.add(at);
      return at;
    }
  }
  return Number.MAX_SAFE_INTEGER;
}

function locate(haystack: string, needle: string, claimed: Set<number>): number | undefined {
  const at = locateOffset(haystack, needle, claimed);
  return at === Number.MAX_SAFE_INTEGER ? undefined : lineAt(haystack, at);
}

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

function flattenErrors(errors: readonly DetailedError[]): DetailedError[] {
  return errors.flatMap((e) => [e, ...flattenErrors(e.related ?? [])]);
}

function errorLine(e: DetailedError): string {
  const label = e.sourceLocations?.[0]?.label;
  return label ? `${e.message} (${label})` : e.message;
}

/** cedar-wasm may throw (a Rust panic surfaces as an exception); treat that as a failed answer. */
function safely<T extends { type: string }>(f: () => T): T | { type: 'failure'; errors: DetailedError[] } {
  try {
    return f();
  } catch (err) {
    return { type: 'failure', errors: [{ message: err instanceof Error ? err.message : String(err), help: null, code: null, url: null, severity: null }] };
  }
}

function sortFiles(files: readonly PolicyFile[]): PolicyFile[] {
  return [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
