/**
 * Static checks of deploy/ (no container engine or cluster runs here):
 * Kubernetes objects against the API schemas with unknown fields rejected,
 * CLI invocations against the real command table, and a Dockerfile reader.
 */
import { parseAllDocuments } from 'yaml';
import { allCommands } from '../../src/cli/cli';
import { runCapture } from './run-cli';

export interface ValidationIssue {
  instancePath: string;
  message?: string;
}

interface Model {
  validate(): void;
}
type ModelCtor = new (data: never) => Model;

/** The kinds deploy/kubernetes uses, each with its kubernetes-models class (an ES module: loaded with import()). */
const MODELS: Readonly<Record<string, () => Promise<ModelCtor>>> = Object.freeze({
  'v1/ConfigMap': async () => (await import('kubernetes-models/v1/ConfigMap')).ConfigMap as unknown as ModelCtor,
  'v1/Service': async () => (await import('kubernetes-models/v1/Service')).Service as unknown as ModelCtor,
  'apps/v1/StatefulSet': async () => (await import('kubernetes-models/apps/v1/StatefulSet')).StatefulSet as unknown as ModelCtor,
  'policy/v1/PodDisruptionBudget': async () => (await import('kubernetes-models/policy/v1/PodDisruptionBudget')).PodDisruptionBudget as unknown as ModelCtor,
  'networking.k8s.io/v1/NetworkPolicy': async () => (await import('kubernetes-models/networking.k8s.io/v1/NetworkPolicy')).NetworkPolicy as unknown as ModelCtor,
  'batch/v1/CronJob': async () => (await import('kubernetes-models/batch/v1/CronJob')).CronJob as unknown as ModelCtor,
});

/** Every document of a YAML file, parsed strictly (duplicate keys and syntax errors throw, naming the file). */
export function parseYamlDocs(text: string, file: string): Record<string, unknown>[] {
  return parseAllDocuments(text, { uniqueKeys: true }).map((d, i) => {
    if (d.errors.length > 0) throw new Error(`${file}: document ${i + 1}: ${d.errors[0]!.message}`);
    return d.toJS() as Record<string, unknown>;
  });
}

function errorsOf(Model: ModelCtor, obj: unknown): ValidationIssue[] {
  try {
    new Model(obj as never).validate();
    return [];
  } catch (err) {
    const errors = (err as { errors?: ValidationIssue[] }).errors;
    if (!Array.isArray(errors)) throw err;
    return errors;
  }
}

const pointer = (parts: readonly string[]): string => '/' + parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');

/**
 * Fields the schema does not know. The bundled validators (ajv, compiled) do
 * not reject additional properties, so each key is probed: its value is
 * replaced by one no schema type accepts (a Symbol); a field the schema
 * declares then fails at its own path, an unknown one is not looked at.
 */
function unknownFields(Model: ModelCtor, doc: Record<string, unknown>): string[] {
  const unknown: string[] = [];
  const probe = (parts: string[]): boolean => {
    const copy = structuredClone(doc) as Record<string, unknown>;
    let node: Record<string, unknown> = copy;
    for (const p of parts.slice(0, -1)) node = node[p] as Record<string, unknown>;
    node[parts[parts.length - 1]!] = Symbol('probe');
    const at = pointer(parts);
    return errorsOf(Model, copy).some((e) => e.instancePath === at || e.instancePath.startsWith(`${at}/`));
  };
  const walk = (value: unknown, parts: string[]): void => {
    if (Array.isArray(value)) {
      value.forEach((v, i) => walk(v, [...parts, String(i)]));
      return;
    }
    if (!value || typeof value !== 'object') return;
    for (const [k, v] of Object.entries(value)) {
      const here = [...parts, k];
      if (probe(here)) walk(v, here);
      else unknown.push(pointer(here));
    }
  };
  walk(doc, []);
  return unknown;
}

/** Schema problems of one manifest object, unknown fields included ("" when it is valid). */
export async function kubernetesProblems(doc: Record<string, unknown>): Promise<string[]> {
  const key = `${String(doc['apiVersion'])}/${String(doc['kind'])}`;
  const load = MODELS[key];
  if (!load) return [`${key}: not a kind these checks know (add its kubernetes-models class)`];
  const Model = await load();
  const invalid = errorsOf(Model, doc).map((e) => `${key} ${e.instancePath || '/'}: ${e.message ?? 'invalid'}`);
  if (invalid.length > 0) return invalid;
  return unknownFields(Model, doc).map((p) => `${key} ${p}: unknown field`);
}

/**
 * Whether argv (after the program name) is a real, built CLI command whose
 * flags parse: the CLI itself parses it with --help added, which prints the
 * command's usage and runs nothing. Returns a problem, or undefined.
 */
export async function cliProblem(argv: readonly string[]): Promise<string | undefined> {
  const cmd = allCommands()
    .filter((c) => c.path.every((p, i) => argv[i] === p))
    .sort((a, b) => b.path.length - a.path.length)[0];
  if (!cmd) return `"secret-broker ${argv.join(' ')}": no such command`;
  if (cmd.summary.startsWith('(not yet available')) return `"secret-broker ${cmd.path.join(' ')}": not built yet`;
  const r = await runCapture([...argv, '--help']);
  if (r.code !== 0 || !r.out.startsWith(`usage: secret-broker ${cmd.path.join(' ')}`)) return `"secret-broker ${argv.join(' ')}": ${r.err.trim() || `exit ${r.code}`}`;
  return undefined;
}

export interface DockerInstruction {
  op: string;
  args: string;
  line: number;
}

export interface DockerStage {
  from: string;
  name?: string;
  instructions: DockerInstruction[];
}

/** A Dockerfile's stages and their instructions (comments dropped, continuation lines joined). */
export function parseDockerfile(text: string): DockerStage[] {
  const stages: DockerStage[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i + 1;
    let line = lines[i]!;
    if (/^\s*(#|$)/.test(line)) continue;
    while (/\\\s*$/.test(line) && i + 1 < lines.length) {
      line = line.replace(/\\\s*$/, ' ');
      i++;
      if (/^\s*#/.test(lines[i]!)) continue;
      line += lines[i]!;
    }
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`Dockerfile line ${start}: cannot read ${JSON.stringify(line.slice(0, 60))}`);
    const op = m[1]!.toUpperCase();
    const args = m[2]!.replace(/\s+/g, ' ').trim();
    if (op === 'FROM') {
      const f = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!f) throw new Error(`Dockerfile line ${start}: cannot read FROM ${args}`);
      stages.push({ from: f[1]!, ...(f[2] ? { name: f[2] } : {}), instructions: [] });
      continue;
    }
    if (stages.length === 0) {
      if (op === 'ARG') continue;
      throw new Error(`Dockerfile line ${start}: ${op} before FROM`);
    }
    stages[stages.length - 1]!.instructions.push({ op, args, line: start });
  }
  return stages;
}

/** The JSON (exec) form of CMD/ENTRYPOINT/HEALTHCHECK CMD, or undefined for the shell form. */
export function execForm(args: string): string[] | undefined {
  if (!args.startsWith('[')) return undefined;
  const v = JSON.parse(args) as unknown;
  return Array.isArray(v) && v.every((s) => typeof s === 'string') ? (v as string[]) : undefined;
}

/** COPY/ADD flags and sources (everything but the destination). */
export function copySources(args: string): { from?: string; sources: string[] } {
  const words = args.split(' ');
  let from: string | undefined;
  while (words[0]?.startsWith('--')) {
    const flag = words.shift()!;
    const m = /^--from=(.+)$/.exec(flag);
    if (m) from = m[1];
  }
  return { ...(from !== undefined ? { from } : {}), sources: words.slice(0, -1) };
}

/** The final stage's problems with running as a non-root user: the last USER must be a numeric uid other than 0. */
export function finalUserProblem(stages: readonly DockerStage[]): string | undefined {
  const last = stages[stages.length - 1];
  if (!last) return 'no stage';
  const users = last.instructions.filter((i) => i.op === 'USER');
  const user = users[users.length - 1];
  if (!user) return 'the final stage has no USER: it runs as root';
  const uid = user.args.split(':')[0]!;
  if (!/^\d+$/.test(uid)) return `USER ${user.args}: use a numeric uid (runAsNonRoot cannot check a name)`;
  if (Number(uid) === 0) return `USER ${user.args}: the final stage runs as root`;
  return undefined;
}
