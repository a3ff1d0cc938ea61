/**
 * Collects every config problem with its path, so a broken file is reported
 * completely in one go (Cerbos-style) instead of one error per run.
 */
export interface ConfigProblem {
  path: string;
  message: string;
}

export class ConfigError extends Error {
  readonly problems: readonly ConfigProblem[];
  constructor(file: string, problems: readonly ConfigProblem[]) {
    super(
      `${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n` +
        problems.map((p) => `  ${p.path}: ${p.message}`).join('\n'),
    );
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export class Problems {
  readonly list: ConfigProblem[] = [];
  add(path: string, message: string): void {
    this.list.push({ path, message });
  }
  get empty(): boolean {
    return this.list.length === 0;
  }
}

export const join = (base: string, key: string | number): string =>
  typeof key === 'number' ? `${base}[${key}]` : base === '' ? key : `${base}.${key}`;

export type Obj = Record<string, unknown>;

export const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A typed view over one mapping in the YAML, recording problems under its path. */
export class Section {
  private readonly seen = new Set<string>();
  constructor(
    readonly path: string,
    readonly raw: Obj,
    readonly problems: Problems,
  ) {}

  static of(path: string, value: unknown, problems: Problems): Section | undefined {
    if (!isObj(value)) {
      problems.add(path || '(root)', `expected a mapping, got ${describe(value)}`);
      return undefined;
    }
    return new Section(path, value, problems);
  }

  has(key: string): boolean {
    return this.raw[key] !== undefined && this.raw[key] !== null;
  }

  at(key: string): string {
    return join(this.path, key);
  }

  value(key: string): unknown {
    this.seen.add(key);
    return this.raw[key];
  }

  section(key: string, required = true): Section | undefined {
    const v = this.value(key);
    if (v === undefined || v === null) {
      if (required) this.problems.add(this.at(key), 'is required (a mapping)');
      return undefined;
    }
    return Section.of(this.at(key), v, this.problems);
  }

  string(key: string, opts: { required?: boolean; pattern?: RegExp; expect?: string } = {}): string | undefined {
    const v = this.value(key);
    if (v === undefined || v === null) {
      if (opts.required !== false) this.problems.add(this.at(key), `is required (${opts.expect ?? 'a string'})`);
      return undefined;
    }
    if (typeof v !== 'string' || v.length === 0) {
      this.problems.add(this.at(key), `expected ${opts.expect ?? 'a non-empty string'}, got ${describe(v)}`);
      return undefined;
    }
    if (opts.pattern && !opts.pattern.test(v)) {
      this.problems.add(this.at(key), `expected ${opts.expect ?? `a string matching ${opts.pattern}`}, got ${JSON.stringify(v)}`);
      return undefined;
    }
    return v;
  }

  int(key: string, opts: { required?: boolean; min?: number; max?: number; fallback?: number } = {}): number | undefined {
    const v = this.value(key);
    if (v === undefined || v === null) {
      if (opts.fallback !== undefined) return opts.fallback;
      if (opts.required !== false) this.problems.add(this.at(key), 'is required (an integer)');
      return undefined;
    }
    const min = opts.min ?? 0;
    const max = opts.max ?? Number.MAX_SAFE_INTEGER;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
      this.problems.add(this.at(key), `expected an integer from ${min} to ${max}, got ${describe(v)}`);
      return undefined;
    }
    return v;
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.value(key);
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') {
      this.problems.add(this.at(key), `expected true or false, got ${describe(v)}`);
      return fallback;
    }
    return v;
  }

  stringList(key: string, opts: { required?: boolean; pattern?: RegExp; expect?: string } = {}): string[] {
    const v = this.value(key);
    if (v === undefined || v === null) {
      if (opts.required) this.problems.add(this.at(key), 'is required (a list of strings)');
      return [];
    }
    if (!Array.isArray(v)) {
      this.problems.add(this.at(key), `expected a list of strings, got ${describe(v)}`);
      return [];
    }
    const out: string[] = [];
    v.forEach((item, i) => {
      if (typeof item !== 'string' || item.length === 0 || (opts.pattern && !opts.pattern.test(item))) {
        this.problems.add(join(this.at(key), i), `expected ${opts.expect ?? 'a non-empty string'}, got ${describe(item)}`);
      } else out.push(item);
    });
    return out;
  }

  /** Reports every key that no reader asked for: unknown keys are errors. */
  done(): void {
    for (const key of Object.keys(this.raw)) {
      if (!this.seen.has(key)) this.problems.add(this.at(key), 'unknown key');
    }
  }
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return v.length > 40 ? `a string (${v.length} chars)` : JSON.stringify(v);
  return `${typeof v} ${String(v)}`;
}
